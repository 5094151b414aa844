"""Access tokens: JWTs in the RFC 9068 profile, signed with the key set's signing key.

Verification fails closed: every way a token can be wrong ends in `InvalidToken`, and the order of
checks is such that nothing from the payload is trusted before the signature is.
"""

import base64
import binascii
import hashlib
import json
import re
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import jwt
from cachetools import LRUCache
from jwt.exceptions import InvalidJTIError, InvalidSubjectError
from jwt.types import Options

from tenantry.core.errors import Unauthorized
from tenantry.core.security.keys import KeySet, SigningKey

# RFC 9068 section 2.1; section 4 also allows the full media type form.
ACCESS_TOKEN_TYPE = "at+jwt"  # noqa: S105 - a media type, not a secret
_ACCEPTED_TYPES = frozenset({ACCESS_TOKEN_TYPE, f"application/{ACCESS_TOKEN_TYPE}"})

# Far above any token we issue; checked before parsing so that no input costs more than this.
MAX_TOKEN_LENGTH = 8 * 1024

REQUIRED_CLAIMS = ("iss", "aud", "sub", "tid", "sid", "iat", "exp", "jti")
_STRING_CLAIMS = ("iss", "aud", "sub", "tid", "sid", "jti")
_RESERVED_CLAIMS = frozenset({*REQUIRED_CLAIMS, "scope", "nbf"})

# RFC 7515 section 7.1: three base64url segments, no padding. Anything else is not one of ours,
# which also keeps non-ASCII text, JSON serialization and JWE (five segments) away from the parser.
_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")

_DECODE_OPTIONS: Options = {
    "require": list(REQUIRED_CLAIMS),
    # RFC 9068 section 4: `aud` must name this resource server; exactly, not one of a list.
    "strict_aud": True,
    "enforce_minimum_key_length": True,
}
_jwt = jwt.PyJWT(options={"enforce_minimum_key_length": True})

# Tokens that passed every check, by the SHA-256 of their exact text. A client sends the same
# access token on every call until it expires; a miss (PyJWT's parsing and checks, then the
# signature) costs a few hundred microseconds of the event loop, a hit a few. A changed byte is a
# different digest, so nothing unverified is ever served. Keyed by digest rather than by the
# 800-byte text, and with the claims that a tenant's tokens share interned, an entry takes about
# 0.7 KiB instead of 1.8: 16,384 entries (some 11 MiB) cover the users active within one token
# lifetime on a replica serving thousands of tenants, where 4,096 missed one request in five at
# 5,000 active users.
VERIFIED_TOKENS_KEPT = 16_384

RejectReason = Literal[
    "invalid",
    "malformed",
    "wrong_type",
    "missing_kid",
    "unknown_kid",
    "algorithm_not_allowed",
    "unsupported_header",
    "bad_signature",
    "expired",
    "not_yet_valid",
    "missing_claim",
    "invalid_claim",
    "wrong_issuer",
    "wrong_audience",
    "wrong_tenant",
]


class InvalidToken(Unauthorized):
    """The bearer token cannot be accepted. `reason` is for logs and metrics, not for clients."""

    code = "invalid_token"
    detail = "The access token is invalid."

    def __init__(
        self,
        detail: str | None = None,
        *,
        reason: RejectReason = "invalid",
        headers: Mapping[str, str] | None = None,
    ):
        # RFC 6750 section 3.1: the challenge names the error, so a client knows to get a new
        # token rather than ask the user again.
        challenge = {"WWW-Authenticate": 'Bearer error="invalid_token"'}
        super().__init__(detail, headers={**challenge, **(headers or {})})
        self.reason: RejectReason = reason


def _reject(reason: RejectReason) -> InvalidToken:
    # Only expiry is worth telling a client apart (it should refresh); every other reason stays
    # in `reason`, so a forger learns nothing about which check stopped it.
    if reason == "expired":
        return InvalidToken("The access token has expired.", reason=reason)
    return InvalidToken(reason=reason)


_NO_EXTRA_CLAIMS: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class AccessTokenClaims:
    sub: str
    tid: str
    sid: str
    iss: str
    aud: str
    iat: int
    exp: int
    jti: str
    scope: str
    # Claims beyond ours (e.g. RFC 9068 `client_id`), as given to `issue_access_token`.
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def scopes(self) -> frozenset[str]:
        """The space-separated `scope` claim as a set (RFC 8693 section 4.2)."""
        return frozenset(self.scope.split())


def issue_access_token(
    keys: KeySet,
    *,
    issuer: str,
    audience: str,
    subject: str,
    tenant_id: str,
    session_id: str,
    ttl_seconds: int,
    scope: str = "",
    now: int | None = None,
    extra: Mapping[str, Any] | None = None,
) -> tuple[str, AccessTokenClaims]:
    """Sign an access token with the signing key; returns the JWT and the claims it carries."""
    named = {
        "issuer": issuer,
        "audience": audience,
        "subject": subject,
        "tenant_id": tenant_id,
        "session_id": session_id,
    }
    empty = [name for name, value in named.items() if not value]
    if empty:
        raise ValueError(f"access token needs a non-empty {', '.join(empty)}")
    if ttl_seconds <= 0:
        raise ValueError("ttl_seconds must be positive")
    extra = dict(extra or {})
    clashing = _RESERVED_CLAIMS.intersection(extra)
    if clashing:
        raise ValueError(f"extra claims may not replace {', '.join(sorted(clashing))}")

    issued_at = int(time.time()) if now is None else now
    claims = AccessTokenClaims(
        sub=subject,
        tid=tenant_id,
        sid=session_id,
        iss=issuer,
        aud=audience,
        iat=issued_at,
        exp=issued_at + ttl_seconds,
        # RFC 7519 section 4.1.7: unique with negligible collision odds; 122 random bits.
        jti=uuid.uuid4().hex,
        scope=scope,
        extra=extra,
    )
    payload: dict[str, Any] = {
        **extra,
        "iss": claims.iss,
        "sub": claims.sub,
        "aud": claims.aud,
        "exp": claims.exp,
        "iat": claims.iat,
        "jti": claims.jti,
        "tid": claims.tid,
        "sid": claims.sid,
    }
    if scope:
        payload["scope"] = scope
    key = keys.signing
    token = _jwt.encode(
        payload,
        key.private_key,
        algorithm=key.algorithm,
        headers={"kid": key.kid, "typ": ACCESS_TOKEN_TYPE},
    )
    return token, claims


def verify_access_token(
    keys: KeySet,
    token: str,
    *,
    issuer: str,
    audience: str,
    tenant_id: str,
    leeway: int = 30,
) -> AccessTokenClaims:
    """Check an access token for this issuer, audience and tenant; raise `InvalidToken` if not.

    A token verified before is taken from `_verified` while its key is still in `keys` and it
    has not expired; any other difference goes through the full checks, which give the reason.
    """
    # `token` is typed str but comes from the request: anything else is refused before any work.
    if not isinstance(token, str) or len(token) > MAX_TOKEN_LENGTH:
        raise _reject("malformed")
    # `surrogatepass`: a token taken from JSON may hold a lone surrogate, which must be refused as
    # malformed further on, not raise here.
    digest = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
    remembered = _verified.get(digest)
    if remembered is not None:
        key, claims = remembered
        if (
            keys.find(key.kid) is key
            and claims.iss == issuer
            and claims.aud == audience
            and claims.exp > time.time() - leeway
        ):
            if claims.tid != tenant_id:
                raise _reject("wrong_tenant")
            return claims
    key = _key_from_header(keys, token)
    payload = _verified_payload(key, token, issuer=issuer, audience=audience, leeway=leeway)
    claims = _claims_from(payload)
    # Tokens are minted per tenant under one key set: without this check, a user of tenant A
    # would be authenticated in tenant B.
    if claims.tid != tenant_id:
        raise _reject("wrong_tenant")
    _verified[digest] = (key, claims)
    return claims


# Module-level: `KeySet` is immutable and shared, and an entry is only ever used with the very key
# object that verified it (`keys.find(kid) is key`).
_verified: LRUCache[bytes, tuple[SigningKey, AccessTokenClaims]] = LRUCache(
    maxsize=VERIFIED_TOKENS_KEPT
)


def _key_from_header(keys: KeySet, token: str) -> SigningKey:
    if _COMPACT_JWS.fullmatch(token) is None:
        raise _reject("malformed")
    header = _unverified_header(token)

    # RFC 8725 section 3.11 and RFC 9068 section 4: explicit typing, so an ID token or any other
    # JWT signed with the same keys cannot stand in for an access token.
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in _ACCEPTED_TYPES:
        raise _reject("wrong_type")
    # RFC 7515 section 4.1.11: a critical extension we do not implement must be refused, and we
    # implement none (PyJWT would accept `b64`, which our tokens never use).
    if "crit" in header:
        raise _reject("unsupported_header")

    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise _reject("missing_kid")
    key = keys.find(kid)
    if key is None:
        raise _reject("unknown_kid")
    # RFC 8725 sections 2.1 and 3.1: the key decides the algorithm, never the token. This is what
    # makes `alg: none` and HS256-keyed-with-the-public-key impossible.
    if header.get("alg") != key.algorithm:
        raise _reject("algorithm_not_allowed")
    return key


def _unverified_header(token: str) -> dict[str, Any]:
    """The JOSE header of a token already matched by `_COMPACT_JWS`, decoded but not trusted.

    Only the header: `jwt.get_unverified_header` decodes all three segments, and PyJWT checks
    every character of each in Python, which made the header lookup cost as much as the
    signature check. The regular expression has already confined the text to the base64url
    alphabet, and `decode_complete` decodes the header again, strictly, before anything here is
    relied on beyond choosing the key.
    """
    segment = token.partition(".")[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (binascii.Error, ValueError, RecursionError) as exc:
        raise _reject("malformed") from exc
    # A `kid` that is not a string is malformed, as PyJWT's own header check has it.
    if not isinstance(header, dict) or not isinstance(header.get("kid", ""), str):
        raise _reject("malformed")
    return header


def _verified_payload(
    key: SigningKey, token: str, *, issuer: str, audience: str, leeway: int
) -> dict[str, Any]:
    try:
        decoded = _jwt.decode_complete(
            token,
            key.public_key,
            # The allow-list is this key's own algorithm only (checked above, enforced again here).
            algorithms=[key.algorithm],
            options=_DECODE_OPTIONS,
            audience=audience,
            issuer=issuer,
            leeway=leeway,
        )
    except jwt.InvalidSignatureError as exc:
        raise _reject("bad_signature") from exc
    except jwt.ExpiredSignatureError as exc:
        raise _reject("expired") from exc
    except jwt.ImmatureSignatureError as exc:
        raise _reject("not_yet_valid") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise _reject("missing_claim") from exc
    except jwt.InvalidIssuerError as exc:
        raise _reject("wrong_issuer") from exc
    except jwt.InvalidAudienceError as exc:
        raise _reject("wrong_audience") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise _reject("algorithm_not_allowed") from exc
    except (InvalidSubjectError, InvalidJTIError, jwt.InvalidIssuedAtError) as exc:
        raise _reject("invalid_claim") from exc
    except (jwt.PyJWTError, ValueError, TypeError, OverflowError, RecursionError) as exc:
        raise _reject("malformed") from exc
    payload: dict[str, Any] = decoded["payload"]
    return payload


def _is_numeric_date(value: object) -> bool:
    # RFC 7519 section 2 allows fractions, but we only issue integers; PyJWT would also accept
    # numeric strings and booleans, which no token of ours contains.
    return isinstance(value, int) and not isinstance(value, bool)


def _claims_from(payload: Mapping[str, Any]) -> AccessTokenClaims:
    strings = {name: payload[name] for name in _STRING_CLAIMS}
    if not all(isinstance(value, str) and value for value in strings.values()):
        raise _reject("invalid_claim")
    iat, exp = payload["iat"], payload["exp"]
    if not (_is_numeric_date(iat) and _is_numeric_date(exp)) or exp <= iat:
        raise _reject("invalid_claim")
    scope = payload.get("scope", "")
    if not isinstance(scope, str):
        raise _reject("invalid_claim")
    extra = {name: value for name, value in payload.items() if name not in _RESERVED_CLAIMS}
    # Interned: every token of a tenant repeats these, and verified claims stay in `_verified`.
    return AccessTokenClaims(
        sub=strings["sub"],
        tid=sys.intern(strings["tid"]),
        sid=strings["sid"],
        iss=sys.intern(strings["iss"]),
        aud=sys.intern(strings["aud"]),
        iat=iat,
        exp=exp,
        jti=strings["jti"],
        scope=sys.intern(scope),
        extra=extra or _NO_EXTRA_CLAIMS,
    )
