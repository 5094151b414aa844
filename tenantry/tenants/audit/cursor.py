"""The opaque cursor of the audit listing: base64url of the last event's (occurred_at, id).

Opaque so that clients pass it back untouched and the order behind it can change; it carries
a position, never a filter, so a client must repeat its filters with it.
"""

import base64
import json
from datetime import datetime
from typing import NamedTuple
from uuid import UUID

from tenantry.tenants.audit.errors import InvalidCursor


class Position(NamedTuple):
    occurred_at: datetime
    id: UUID


def encode_cursor(position: Position) -> str:
    raw = json.dumps([position.occurred_at.isoformat(), str(position.id)], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).rstrip(b"=").decode("ascii")


def decode_cursor(cursor: str) -> Position:
    """The position in `cursor`; `InvalidCursor` (400) for anything this module did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        occurred_at, event_id = json.loads(raw)
        position = Position(datetime.fromisoformat(occurred_at), UUID(event_id))
    # Whatever a hand-made cursor breaks (base64, UTF-8, JSON, shape, date, UUID) is the
    # caller's mistake, answered as such rather than as a 500.
    except (ValueError, TypeError, AttributeError) as exc:
        raise InvalidCursor() from exc
    if position.occurred_at.tzinfo is None:
        raise InvalidCursor()
    return position
