"""Opaque secrets (refresh, reset, verification and invitation tokens).

256 bits from the OS CSPRNG; only a SHA-256 digest is stored, so a database leak yields nothing
that can be presented. A fast hash is right here: the input is random, not a password.
"""

import hashlib
import secrets
from typing import NamedTuple


class OpaqueToken(NamedTuple):
    value: str  # given to the client once
    digest: bytes  # stored


def new_opaque_token() -> OpaqueToken:
    value = secrets.token_urlsafe(32)
    return OpaqueToken(value, digest_of(value))


def digest_of(value: str) -> bytes:
    return hashlib.sha256(value.encode("utf-8")).digest()
