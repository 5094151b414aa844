import base64
import hashlib
import hmac
import json
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from tenantry.core.errors import Unauthorized
from tenantry.core.security.keys import KeySet, SigningKey, generate_private_key_pem
from tenantry.core.security.keys import load_signing_key as key_from
from tenantry.core.security.tokens import (
    MAX_TOKEN_LENGTH,
    REQUIRED_CLAIMS,
    AccessTokenClaims,
    InvalidToken,
    issue_access_token,
    verify_access_token,
)

ISSUER = "https://acme.tenantry.test"
AUDIENCE = "tenantry"
TENANT_A = str(uuid.UUID(int=0xA))
TENANT_B = str(uuid.UUID(int=0xB))
GENERIC_DETAILS = {"The access token is invalid.", "The access token has expired."}


@pytest.fixture(scope="module")
def rsa_key() -> SigningKey:
    return key_from(generate_private_key_pem("rsa"))


@pytest.fixture(scope="module")
def older_rsa_key() -> SigningKey:
    return key_from(generate_private_key_pem("rsa"))


@pytest.fixture(scope="module")
def ed_key() -> SigningKey:
    return key_from(generate_private_key_pem("ed25519"))


@pytest.fixture(scope="module")
def keys(rsa_key: SigningKey) -> KeySet:
    return KeySet([rsa_key])


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64json(value: object) -> str:
    return b64(json.dumps(value).encode())


def unb64json(segment: str) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))


def issue(keys: KeySet, **overrides: Any) -> tuple[str, AccessTokenClaims]:
    arguments: dict[str, Any] = {
        "issuer": ISSUER,
        "audience": AUDIENCE,
        "subject": "user-1",
        "tenant_id": TENANT_A,
        "session_id": "session-1",
        "ttl_seconds": 600,
    }
    return issue_access_token(keys, **{**arguments, **overrides})


def verify(keys: KeySet, token: Any, **overrides: Any) -> AccessTokenClaims:
    arguments: dict[str, Any] = {"issuer": ISSUER, "audience": AUDIENCE, "tenant_id": TENANT_A}
    return verify_access_token(keys, token, **{**arguments, **overrides})


def rejected(keys: KeySet, token: Any, **overrides: Any) -> InvalidToken:
    """Verify, expect refusal, and check that the client sees nothing but a generic answer."""
    with pytest.raises(InvalidToken) as caught:
        verify(keys, token, **overrides)
    error = caught.value
    assert error.detail in GENERIC_DETAILS
    assert error.body() == {"error": "invalid_token", "detail": error.detail}
    return error


def claims_payload(**changes: Any) -> dict[str, Any]:
    now = int(time.time())
    payload: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": "user-1",
        "tid": TENANT_A,
        "sid": "session-1",
        "iat": now,
        "exp": now + 600,
        "jti": uuid.uuid4().hex,
    }
    payload.update(changes)
    return payload


def sign(key: SigningKey, payload: dict[str, Any], **header: Any) -> str:
    """A token signed for real with our key, with a header we choose (kid and typ by default)."""
    headers = {"kid": key.kid, "typ": "at+jwt", **header}
    if headers["kid"] is None:
        del headers["kid"]
    return jwt.encode(payload, key.private_key, algorithm=key.algorithm, headers=headers)


def sign_by_hand(key: SigningKey, header: dict[str, Any], payload: dict[str, Any]) -> str:
    """A real RS256 signature over exactly these bytes, for what PyJWT refuses to produce."""
    assert isinstance(key.private_key, rsa.RSAPrivateKey)
    signing_input = f"{b64json(header)}.{b64json(payload)}"
    signature = key.private_key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{b64(signature)}"


# Issuing and verifying


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_round_trip(kind: str, rsa_key: SigningKey, ed_key: SigningKey) -> None:
    key = rsa_key if kind == "rsa" else ed_key
    keys = KeySet([key])
    token, issued = issue(
        keys, scope="users:read roles:read", extra={"client_id": "web", "amr": ["pwd"]}
    )

    header = jwt.get_unverified_header(token)
    assert header == {"alg": key.algorithm, "kid": key.kid, "typ": "at+jwt"}
    verified = verify(keys, token)
    assert verified == issued
    assert verified.exp - verified.iat == 600
    assert verified.scopes == {"users:read", "roles:read"}
    assert dict(verified.extra) == {"client_id": "web", "amr": ["pwd"]}
    assert (verified.sub, verified.tid, verified.sid) == ("user-1", TENANT_A, "session-1")


def test_jti_is_unique(keys: KeySet) -> None:
    assert len({issue(keys)[1].jti for _ in range(50)}) == 50


def test_empty_scope_is_left_out(keys: KeySet) -> None:
    token, _ = issue(keys)
    assert "scope" not in unb64json(token.split(".")[1])
    assert verify(keys, token).scope == ""


def test_relying_party_verifies_with_the_published_jwks(keys: KeySet) -> None:
    # What another service does with /.well-known/jwks.json and nothing else of ours.
    token, _ = issue(keys)
    published = jwt.PyJWKSet.from_dict(keys.jwks())[jwt.get_unverified_header(token)["kid"]]
    payload = jwt.decode(token, published, audience=AUDIENCE, issuer=ISSUER)
    assert payload["tid"] == TENANT_A


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"ttl_seconds": 0}, "ttl_seconds"),
        ({"subject": ""}, "subject"),
        ({"tenant_id": "", "session_id": ""}, "tenant_id, session_id"),
        ({"extra": {"tid": TENANT_B}}, "may not replace tid"),
        ({"extra": {"exp": 2**40, "client_id": "x"}}, "may not replace exp"),
    ],
)
def test_issue_refuses_bad_arguments(keys: KeySet, arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        issue(keys, **arguments)


def test_invalid_token_is_a_401_with_a_bearer_challenge(keys: KeySet) -> None:
    error = rejected(keys, "garbage")
    assert isinstance(error, Unauthorized)
    assert error.status_code == 401
    assert error.headers == {"WWW-Authenticate": 'Bearer error="invalid_token"'}


# Rotation


def test_rotation(rsa_key: SigningKey, older_rsa_key: SigningKey, ed_key: SigningKey) -> None:
    old_token, _ = issue(KeySet([older_rsa_key]))
    rotated = KeySet([ed_key, older_rsa_key])

    assert verify(rotated, old_token).sub == "user-1"
    new_token, _ = issue(rotated)
    assert jwt.get_unverified_header(new_token)["kid"] == ed_key.kid
    assert verify(rotated, new_token).sub == "user-1"
    # Once the old key is dropped, its tokens stop working.
    assert rejected(KeySet([ed_key, rsa_key]), old_token).reason == "unknown_kid"


# Algorithm confusion (RFC 8725 sections 2.1 and 3.1)


@pytest.mark.parametrize(
    ("alg", "signature", "reason"),
    [
        ("none", "", "malformed"),
        ("none", b64(b"anything"), "algorithm_not_allowed"),
        ("None", b64(b"anything"), "algorithm_not_allowed"),
        ("NONE", b64(b"anything"), "algorithm_not_allowed"),
    ],
)
def test_alg_none_refused(
    keys: KeySet, rsa_key: SigningKey, alg: str, signature: str, reason: str
) -> None:
    header = {"alg": alg, "typ": "at+jwt", "kid": rsa_key.kid}
    token = f"{b64json(header)}.{b64json(claims_payload())}.{signature}"
    assert rejected(keys, token).reason == reason


@pytest.mark.parametrize("kind", ["rsa", "ed25519"])
def test_hs256_keyed_with_the_public_key_refused(
    kind: str, rsa_key: SigningKey, ed_key: SigningKey
) -> None:
    key = rsa_key if kind == "rsa" else ed_key
    public_pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signing_input = f"{b64json({'alg': 'HS256', 'typ': 'at+jwt', 'kid': key.kid})}."
    signing_input += b64json(claims_payload())
    mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
    token = f"{signing_input}.{b64(mac)}"
    assert rejected(KeySet([key]), token).reason == "algorithm_not_allowed"


def test_other_algorithm_with_the_same_rsa_key_refused(keys: KeySet, rsa_key: SigningKey) -> None:
    # A valid PS256 signature by our own key: still not the algorithm this key is for.
    token = jwt.encode(
        claims_payload(),
        rsa_key.private_key,
        algorithm="PS256",
        headers={"kid": rsa_key.kid, "typ": "at+jwt"},
    )
    assert rejected(keys, token).reason == "algorithm_not_allowed"


def test_algorithm_of_another_key_refused(rsa_key: SigningKey, ed_key: SigningKey) -> None:
    # Signed by the Ed25519 key but naming the RSA key's kid: alg does not match that key.
    token = sign(ed_key, claims_payload(), kid=rsa_key.kid)
    assert rejected(KeySet([rsa_key, ed_key]), token).reason == "algorithm_not_allowed"


# Signatures


def test_stripped_signature_refused(keys: KeySet) -> None:
    token, _ = issue(keys)
    header_and_payload = token.rsplit(".", 1)[0]
    assert rejected(keys, header_and_payload + ".").reason == "malformed"
    assert rejected(keys, header_and_payload).reason == "malformed"


def test_signature_of_another_token_refused(keys: KeySet) -> None:
    first, _ = issue(keys)
    second, _ = issue(keys, subject="user-2")
    spliced = first.rsplit(".", 1)[0] + "." + second.rsplit(".", 1)[1]
    assert rejected(keys, spliced).reason == "bad_signature"


def test_signature_by_a_foreign_key_under_our_kid_refused(
    keys: KeySet, rsa_key: SigningKey, older_rsa_key: SigningKey
) -> None:
    token = sign(older_rsa_key, claims_payload(), kid=rsa_key.kid)
    assert rejected(keys, token).reason == "bad_signature"


@pytest.mark.parametrize(
    ("claim", "value"), [("tid", TENANT_B), ("sub", "admin"), ("exp", 2**40), ("scope", "*")]
)
def test_tampered_payload_refused(keys: KeySet, claim: str, value: object) -> None:
    token, _ = issue(keys)
    header, payload, signature = token.split(".")
    changed = {**unb64json(payload), claim: value}
    assert rejected(keys, f"{header}.{b64json(changed)}.{signature}").reason == "bad_signature"


# Time (RFC 7519 sections 4.1.4 and 4.1.6)


def test_expired_beyond_leeway_refused(keys: KeySet) -> None:
    token, _ = issue(keys, now=int(time.time()) - 3600, ttl_seconds=300)
    error = rejected(keys, token)
    assert error.reason == "expired"
    assert error.detail == "The access token has expired."


def test_expired_within_leeway_accepted(keys: KeySet) -> None:
    # Expired ten seconds ago: inside the 30-second default leeway, outside a 5-second one.
    token, _ = issue(keys, now=int(time.time()) - 310, ttl_seconds=300)
    assert verify(keys, token).sub == "user-1"
    assert rejected(keys, token, leeway=5).reason == "expired"


def test_issued_in_the_future_refused(keys: KeySet) -> None:
    token, _ = issue(keys, now=int(time.time()) + 3600)
    assert rejected(keys, token).reason == "not_yet_valid"


def test_clock_skew_within_leeway_accepted(keys: KeySet) -> None:
    token, _ = issue(keys, now=int(time.time()) + 10)
    assert verify(keys, token).sub == "user-1"


def test_not_before_in_the_future_refused(keys: KeySet, rsa_key: SigningKey) -> None:
    token = sign(rsa_key, claims_payload(nbf=int(time.time()) + 3600))
    assert rejected(keys, token).reason == "not_yet_valid"


# Issuer, audience, tenant


def test_wrong_audience_refused(keys: KeySet, rsa_key: SigningKey) -> None:
    token, _ = issue(keys, audience="another-api")
    assert rejected(keys, token).reason == "wrong_audience"
    # RFC 9068 section 4: exactly our audience, so a token for several is refused as well.
    listed = sign(rsa_key, claims_payload(aud=[AUDIENCE, "another-api"]))
    assert rejected(keys, listed).reason == "wrong_audience"


def test_wrong_issuer_refused(keys: KeySet) -> None:
    token, _ = issue(keys, issuer="https://evil.tenantry.test")
    assert rejected(keys, token).reason == "wrong_issuer"


def test_token_of_tenant_a_refused_in_tenant_b(keys: KeySet) -> None:
    token, _ = issue(keys, tenant_id=TENANT_A)
    assert verify(keys, token, tenant_id=TENANT_A).tid == TENANT_A
    assert rejected(keys, token, tenant_id=TENANT_B).reason == "wrong_tenant"


# Header: kid and typ


def test_unknown_kid_refused(keys: KeySet, rsa_key: SigningKey, older_rsa_key: SigningKey) -> None:
    assert rejected(keys, sign(rsa_key, claims_payload(), kid="other")).reason == "unknown_kid"
    foreign, _ = issue(KeySet([older_rsa_key]))
    assert rejected(keys, foreign).reason == "unknown_kid"


@pytest.mark.parametrize(("kid", "reason"), [(None, "missing_kid"), ("", "missing_kid")])
def test_missing_kid_refused(keys: KeySet, rsa_key: SigningKey, kid: Any, reason: str) -> None:
    assert rejected(keys, sign(rsa_key, claims_payload(), kid=kid)).reason == reason


def test_non_string_kid_refused(keys: KeySet, rsa_key: SigningKey) -> None:
    header = {"alg": "RS256", "typ": "at+jwt", "kid": 7}
    token = f"{b64json(header)}.{b64json(claims_payload())}.{b64(b'signature')}"
    assert rejected(keys, token).reason == "malformed"


@pytest.mark.parametrize("typ", ["JWT", "", "jwt", "application/jwt", "id_token+jwt", 7])
def test_wrong_typ_refused(keys: KeySet, rsa_key: SigningKey, typ: Any) -> None:
    assert rejected(keys, sign(rsa_key, claims_payload(), typ=typ)).reason == "wrong_type"


@pytest.mark.parametrize("typ", ["application/at+jwt", "AT+JWT"])
def test_typ_spellings_of_rfc9068_accepted(keys: KeySet, rsa_key: SigningKey, typ: str) -> None:
    assert verify(keys, sign(rsa_key, claims_payload(), typ=typ)).sub == "user-1"


def test_hand_signed_token_is_accepted(keys: KeySet, rsa_key: SigningKey) -> None:
    # The helper below signs correctly: the refusals that use it are about their one change.
    header = {"alg": "RS256", "typ": "at+jwt", "kid": rsa_key.kid}
    assert verify(keys, sign_by_hand(rsa_key, header, claims_payload())).sub == "user-1"


def test_header_in_non_canonical_base64_refused(keys: KeySet, rsa_key: SigningKey) -> None:
    # The header is read once, leniently, to choose the key; PyJWT's strict decoding must still
    # refuse a segment whose unused low bits are set, even under a valid signature.
    header = {"alg": "RS256", "typ": "at+jwt", "kid": rsa_key.kid}
    while len(json.dumps(header).encode()) % 3 == 0:
        header["pad"] = header.get("pad", "") + "x"
    segment = b64json(header)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    loose = segment[:-1] + alphabet[alphabet.index(segment[-1]) ^ 1]
    assert unb64json(loose) == header  # the same bytes to a lenient decoder
    signing_input = f"{loose}.{b64json(claims_payload())}"
    assert isinstance(rsa_key.private_key, rsa.RSAPrivateKey)
    signature = rsa_key.private_key.sign(
        signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert rejected(keys, f"{signing_input}.{b64(signature)}").reason == "malformed"


def test_critical_header_refused(keys: KeySet, rsa_key: SigningKey) -> None:
    # PyJWT itself would accept this one (b64 is an extension it implements); we use none.
    header = {"alg": "RS256", "typ": "at+jwt", "kid": rsa_key.kid, "crit": ["b64"], "b64": True}
    token = sign_by_hand(rsa_key, header, claims_payload())
    assert rejected(keys, token).reason == "unsupported_header"


# Claims


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_missing_claim_refused(keys: KeySet, rsa_key: SigningKey, claim: str) -> None:
    payload = claims_payload()
    del payload[claim]
    assert rejected(keys, sign(rsa_key, payload)).reason == "missing_claim"


@pytest.mark.parametrize("claim", REQUIRED_CLAIMS)
def test_null_claim_refused(keys: KeySet, rsa_key: SigningKey, claim: str) -> None:
    header = {"alg": "RS256", "typ": "at+jwt", "kid": rsa_key.kid}
    token = sign_by_hand(rsa_key, header, claims_payload(**{claim: None}))
    assert rejected(keys, token).reason == "missing_claim"


@pytest.mark.parametrize(
    "make_changes",
    [
        lambda now: {"sub": 42},
        lambda now: {"sub": ""},
        lambda now: {"sid": ["session-1"]},
        lambda now: {"tid": ""},
        lambda now: {"jti": 1},
        lambda now: {"iat": True},
        lambda now: {"exp": str(now + 600)},
        lambda now: {"iat": now + 5, "exp": now + 5},
        lambda now: {"scope": ["users:read"]},
    ],
)
def test_claim_of_the_wrong_type_refused(
    keys: KeySet, rsa_key: SigningKey, make_changes: Callable[[int], dict[str, Any]]
) -> None:
    # Times are taken when the test runs, not when it is collected: a long suite would
    # otherwise turn "exp not after iat" into "expired".
    changes = make_changes(int(time.time()))
    assert rejected(keys, sign(rsa_key, claims_payload(**changes))).reason == "invalid_claim"


# Malformed input


@pytest.mark.parametrize(
    "token",
    [
        "",
        " ",
        "garbage",
        "a.b",
        "a.b.c",
        "a.b.c.d",
        "a.b.c.d.e",
        "....",
        "Bearer eyJ.eyJ.sig",
        "eyJhbGciOiJSUzI1NiJ9.eyJ9.c2ln=",
        "aaaaa.bbbb.cccc",
        "é.é.é",
        "\ud800.a.b",
        "a\x00.b.c",
        f"{b64(b'not json')}.{b64json({})}.c2ln",
        f"{b64json([1, 2])}.{b64json({})}.c2ln",
        f"{b64json('at+jwt')}.{b64json({})}.c2ln",
        f"{b64(b'[' * 5000)}.{b64json({})}.c2ln",
        f"{b64(bytes(range(256)))}.{b64json({})}.c2ln",
    ],
)
def test_garbage_refused(keys: KeySet, token: str) -> None:
    assert rejected(keys, token).reason == "malformed"


@pytest.mark.parametrize("token", [None, b"a.b.c", 42])
def test_non_string_refused(keys: KeySet, token: object) -> None:
    assert rejected(keys, token).reason == "malformed"


def test_unparseable_payload_after_a_good_header_refused(keys: KeySet, rsa_key: SigningKey) -> None:
    header = b64json({"alg": "RS256", "typ": "at+jwt", "kid": rsa_key.kid})
    for payload in (b64(b"{not json"), b64json([1]), b64(b'{"exp": 1' + b"0" * 5000 + b"}")):
        assert rejected(keys, f"{header}.{payload}.c2ln").reason in {"bad_signature", "malformed"}


def test_huge_input_refused(keys: KeySet) -> None:
    assert rejected(keys, "a" * 100_000).reason == "malformed"
    token, _ = issue(keys, extra={"padding": "x" * 100_000})
    assert rejected(keys, token).reason == "malformed"


def test_length_cap_is_8_kib(keys: KeySet) -> None:
    def token_of_length_near(length: int) -> str:
        base, _ = issue(keys, extra={"padding": ""})
        # Base64 grows by 4 characters per 3 bytes; aim a little below the target, then check.
        token, _ = issue(keys, extra={"padding": "x" * ((length - len(base)) * 3 // 4)})
        return token

    fits = token_of_length_near(MAX_TOKEN_LENGTH - 8)
    assert MAX_TOKEN_LENGTH - 16 <= len(fits) <= MAX_TOKEN_LENGTH
    assert verify(keys, fits).sub == "user-1"
    too_long = token_of_length_near(MAX_TOKEN_LENGTH + 16)
    assert len(too_long) > MAX_TOKEN_LENGTH
    assert rejected(keys, too_long).reason == "malformed"


def test_mutated_tokens_never_escape_as_other_errors(keys: KeySet) -> None:
    token, _ = issue(keys)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ é\x00"
    rng = random.Random(7638)
    for _ in range(500):
        chars = list(token)
        for _ in range(rng.randint(1, 3)):
            position = rng.randrange(len(chars))
            action = rng.choice(["replace", "delete", "insert"])
            if action == "replace":
                chars[position] = rng.choice(alphabet)
            elif action == "delete":
                del chars[position]
            else:
                chars.insert(position, rng.choice(alphabet))
        mutated = "".join(chars)
        if mutated == token:
            continue
        rejected(keys, mutated)


# A token verified once is remembered (tokens.VERIFIED_TOKENS_KEPT); each check below runs after
# a successful verification of the same text, so it exercises the remembered path.


def test_a_remembered_token_still_belongs_to_its_tenant_issuer_and_audience(keys: KeySet) -> None:
    token, claims = issue(keys)
    assert verify(keys, token) == claims
    assert rejected(keys, token, tenant_id=TENANT_B).reason == "wrong_tenant"
    assert rejected(keys, token, issuer="https://other.tenantry.test").reason == "wrong_issuer"
    assert rejected(keys, token, audience="someone-else").reason == "wrong_audience"
    assert verify(keys, token) == claims


def test_a_remembered_token_expires(keys: KeySet) -> None:
    token, _ = issue(keys, now=int(time.time()) - 20, ttl_seconds=10)
    verify(keys, token, leeway=30)
    assert rejected(keys, token, leeway=0).reason == "expired"


def test_a_remembered_token_dies_with_its_key(rsa_key: SigningKey) -> None:
    pem = generate_private_key_pem("rsa")
    retiring = key_from(pem)
    token, _ = issue(KeySet([retiring, rsa_key]))
    verify(KeySet([retiring, rsa_key]), token)
    assert rejected(KeySet([rsa_key]), token).reason == "unknown_kid"
    # The same key loaded again is another object: the token goes through the full checks.
    assert verify(KeySet([key_from(pem)]), token).sub == "user-1"


def test_a_changed_byte_is_never_taken_from_memory(keys: KeySet) -> None:
    token, _ = issue(keys)
    verify(keys, token)
    head, payload, signature = token.split(".")
    flipped = signature[:-2] + ("A" if signature[-2] != "A" else "B") + signature[-1]
    assert rejected(keys, f"{head}.{payload}.{flipped}").reason == "bad_signature"
