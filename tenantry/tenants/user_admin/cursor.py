"""Opaque cursors for keyset pagination.

A cursor is the sort key and id of the last row served, tagged with what it was issued for, as
base64url JSON. It is not signed: a forged cursor only moves the start of a page the caller may
read anyway. The tag makes a cursor from another sort or listing fail loudly instead of skipping
rows silently.
"""

import base64
import binascii
import json
from collections.abc import Sequence

from tenantry.tenants.user_admin.errors import InvalidCursor

MAX_CURSOR_LENGTH = 512


def encode_cursor(kind: str, values: Sequence[str]) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, kind: str, arity: int) -> list[str]:
    """The values of a cursor issued for `kind`; `InvalidCursor` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
    except (ValueError, binascii.Error) as exc:  # UnicodeDecodeError is a ValueError
        raise InvalidCursor() from exc
    if (
        not isinstance(decoded, list)
        or len(decoded) != arity + 1
        or decoded[0] != kind
        or not all(isinstance(value, str) for value in decoded[1:])
    ):
        raise InvalidCursor()
    return decoded[1:]
