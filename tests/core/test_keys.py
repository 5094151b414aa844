import base64
import hashlib
import stat
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, rsa

from tenantry.core.security.keys import (
    DEVELOPMENT_KEY_FILENAME,
    KeySet,
    SigningKey,
    SigningKeyError,
    generate_private_key_pem,
    jwk_thumbprint,
    load_keyset,
    load_signing_key,
)
from tenantry.core.settings import Environment, Settings

# RFC 7638 section 3.1: the example key (RFC 7517 appendix A.1) and its published thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECP"
    "ebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY"
    "368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0f"
    "M4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)
RFC7638_E = "AQAB"
RFC7638_THUMBPRINT = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
# RFC 8037 appendix A.2 and A.3: the Ed25519 example public key and its thumbprint.
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"

PRIVATE_MEMBERS = {"d", "p", "q", "dp", "dq", "qi", "oth", "k"}


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def uint(value: int) -> str:
    return b64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


def rfc7638_thumbprint(canonical_json: str) -> str:
    return b64url(hashlib.sha256(canonical_json.encode()).digest())


def rsa_thumbprint(n: str, e: str) -> str:
    # Written out by hand, in the RFC's member order, rather than with json.dumps(sort_keys=...).
    return rfc7638_thumbprint('{"e":"' + e + '","kty":"RSA","n":"' + n + '"}')


def okp_thumbprint(x: str) -> str:
    return rfc7638_thumbprint('{"crv":"Ed25519","kty":"OKP","x":"' + x + '"}')


OtherPrivateKey = rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey | ed448.Ed448PrivateKey


def pem_of(private_key: OtherPrivateKey) -> str:
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture(scope="module")
def rsa_pem() -> str:
    return generate_private_key_pem("rsa")


@pytest.fixture(scope="module")
def ed25519_pem() -> str:
    return generate_private_key_pem("ed25519")


def dev_settings(data_dir: Path, keys: list[str] | None = None) -> Settings:
    return Settings(
        env=Environment.DEVELOPMENT,
        data_dir=data_dir,
        signing_keys=keys or [],
    )


# Thumbprints


def test_thumbprint_helpers_match_the_rfc_examples() -> None:
    # Checks the test's own independent computation against the published values first.
    assert rsa_thumbprint(RFC7638_N, RFC7638_E) == RFC7638_THUMBPRINT
    assert okp_thumbprint(RFC8037_X) == RFC8037_THUMBPRINT


def test_jwk_thumbprint_of_the_rfc7638_example_key() -> None:
    numbers = rsa.RSAPublicNumbers(
        e=int.from_bytes(b64url_decode(RFC7638_E), "big"),
        n=int.from_bytes(b64url_decode(RFC7638_N), "big"),
    )
    assert jwk_thumbprint(numbers.public_key()) == RFC7638_THUMBPRINT


def test_jwk_thumbprint_of_the_rfc8037_example_key() -> None:
    public_key = ed25519.Ed25519PublicKey.from_public_bytes(b64url_decode(RFC8037_X))
    assert jwk_thumbprint(public_key) == RFC8037_THUMBPRINT


def test_rsa_kid_is_the_rfc7638_thumbprint(rsa_pem: str) -> None:
    key = load_signing_key(rsa_pem)
    assert isinstance(key.public_key, rsa.RSAPublicKey)
    numbers = key.public_key.public_numbers()
    assert key.kid == rsa_thumbprint(uint(numbers.n), uint(numbers.e))
    assert key.algorithm == "RS256"


def test_ed25519_kid_is_the_rfc7638_thumbprint(ed25519_pem: str) -> None:
    key = load_signing_key(ed25519_pem)
    raw = key.public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    assert key.kid == okp_thumbprint(b64url(raw))
    assert key.algorithm == "EdDSA"


def test_kid_is_stable_across_loads(rsa_pem: str) -> None:
    assert load_signing_key(rsa_pem).kid == load_signing_key(rsa_pem).kid


# Key sets and the JWKS document


def test_keyset_order_lookup_and_algorithms(rsa_pem: str, ed25519_pem: str) -> None:
    first, second = load_signing_key(ed25519_pem), load_signing_key(rsa_pem)
    keys = KeySet([first, second])
    assert keys.signing == first
    assert keys.find(second.kid) == second
    assert keys.find("no-such-kid") is None
    assert keys.algorithms == ("EdDSA", "RS256")
    assert KeySet([second, load_signing_key(generate_private_key_pem())]).algorithms == ("RS256",)


def test_keyset_refuses_empty_and_duplicates(rsa_pem: str) -> None:
    with pytest.raises(SigningKeyError, match="at least one"):
        KeySet([])
    with pytest.raises(SigningKeyError, match="twice"):
        KeySet([load_signing_key(rsa_pem), load_signing_key(rsa_pem)])


def test_jwks_has_public_members_only(rsa_pem: str, ed25519_pem: str) -> None:
    rsa_key, ed_key = load_signing_key(rsa_pem), load_signing_key(ed25519_pem)
    document = KeySet([rsa_key, ed_key]).jwks()

    assert list(document) == ["keys"]
    rsa_jwk, ed_jwk = document["keys"]
    assert set(rsa_jwk) == {"kty", "kid", "use", "alg", "n", "e"}
    assert set(ed_jwk) == {"kty", "kid", "use", "alg", "crv", "x"}
    for jwk in (rsa_jwk, ed_jwk):
        assert not PRIVATE_MEMBERS & set(jwk)
        assert jwk["use"] == "sig"
    assert (rsa_jwk["kty"], rsa_jwk["alg"], rsa_jwk["kid"]) == ("RSA", "RS256", rsa_key.kid)
    assert (ed_jwk["kty"], ed_jwk["crv"], ed_jwk["alg"]) == ("OKP", "Ed25519", "EdDSA")
    assert ed_jwk["kid"] == ed_key.kid


def test_jwks_is_readable_by_pyjwt(rsa_pem: str, ed25519_pem: str) -> None:
    keys = KeySet([load_signing_key(rsa_pem), load_signing_key(ed25519_pem)])
    parsed = jwt.PyJWKSet.from_dict(keys.jwks())
    for key in keys:
        published = parsed[key.kid]
        assert published.algorithm_name == key.algorithm
        assert jwk_thumbprint(published.key) == key.kid


def test_signing_key_refuses_a_mismatched_algorithm(rsa_pem: str) -> None:
    key = load_signing_key(rsa_pem)
    with pytest.raises(SigningKeyError, match="RS256"):
        SigningKey(key.kid, "EdDSA", key.private_key, key.public_key)


# Loading PEM keys


@pytest.mark.parametrize(("kind", "algorithm"), [("rsa", "RS256"), ("ed25519", "EdDSA")])
def test_generated_keys_load(kind: str, algorithm: str) -> None:
    pem = generate_private_key_pem(kind)  # type: ignore[arg-type]
    assert pem.startswith("-----BEGIN PRIVATE KEY-----")
    assert load_signing_key(pem).algorithm == algorithm


def test_traditional_rsa_pem_loads(rsa_pem: str) -> None:
    private_key = load_signing_key(rsa_pem).private_key
    traditional = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    assert traditional.startswith("-----BEGIN RSA PRIVATE KEY-----")
    assert load_signing_key(traditional).kid == load_signing_key(rsa_pem).kid


def test_small_rsa_key_refused() -> None:
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024)  # noqa: S505 - on purpose
    with pytest.raises(SigningKeyError, match="1024-bit RSA key; RSA keys need at least 2048"):
        load_signing_key(pem_of(small))


@pytest.mark.parametrize(
    ("private_key", "described"),
    [
        (ec.generate_private_key(ec.SECP256R1()), "an EC key on secp256r1"),
        (ed448.Ed448PrivateKey.generate(), "an Ed448 key"),
    ],
)
def test_other_key_types_refused(private_key: OtherPrivateKey, described: str) -> None:
    with pytest.raises(SigningKeyError, match=f"is {described}; use an RSA key"):
        load_signing_key(pem_of(private_key))


@pytest.mark.parametrize("format_", ["pkcs8", "traditional"])
def test_encrypted_pem_refused(rsa_pem: str, format_: str) -> None:
    private_key = load_signing_key(rsa_pem).private_key
    encrypted = private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8
        if format_ == "pkcs8"
        else serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.BestAvailableEncryption(b"passphrase"),
    ).decode()
    with pytest.raises(SigningKeyError, match="encrypted PEM") as caught:
        load_signing_key(encrypted, label="signing key #1")
    assert str(caught.value).startswith("signing key #1")


def test_public_key_and_garbage_refused_without_echoing_them(rsa_pem: str) -> None:
    public_pem = (
        load_signing_key(rsa_pem)
        .public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
    )
    garbage = (
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LWJ1dC1ub3QtYS1rZXk=\n-----END PRIVATE KEY-----\n"
    )
    for pem in (public_pem, garbage):
        with pytest.raises(SigningKeyError, match="not a valid PEM private key") as caught:
            load_signing_key(pem)
        assert "c2VjcmV0" not in str(caught.value)
        assert caught.value.__cause__ is None


# load_keyset


def test_keys_from_settings_in_order(tmp_path: Path, rsa_pem: str, ed25519_pem: str) -> None:
    keys = load_keyset(dev_settings(tmp_path, [ed25519_pem, rsa_pem]))
    assert [key.algorithm for key in keys] == ["EdDSA", "RS256"]
    assert not (tmp_path / DEVELOPMENT_KEY_FILENAME).exists()


def test_keys_from_one_environment_variable(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, rsa_pem: str, ed25519_pem: str
) -> None:
    # How operators configure rotation: both PEMs in TENANTRY_SIGNING_KEYS, the new one first.
    monkeypatch.setenv("TENANTRY_SIGNING_KEYS", rsa_pem + ed25519_pem)
    monkeypatch.setenv("TENANTRY_DATA_DIR", str(tmp_path))
    keys = load_keyset(Settings())
    assert keys.signing.kid == load_signing_key(rsa_pem).kid
    assert keys.find(load_signing_key(ed25519_pem).kid) is not None


def test_file_path_accepted(tmp_path: Path, rsa_pem: str, ed25519_pem: str) -> None:
    path = tmp_path / "tenantry-key.pem"
    path.write_text(ed25519_pem)
    keys = load_keyset(dev_settings(tmp_path, [str(path), rsa_pem]))
    assert keys.signing.kid == load_signing_key(ed25519_pem).kid
    assert len(keys) == 2


def test_missing_file_refused_without_echoing_the_value(tmp_path: Path) -> None:
    value = str(tmp_path / "absent-key.pem")
    with pytest.raises(SigningKeyError, match="signing key #1 is neither PEM text") as caught:
        load_keyset(dev_settings(tmp_path, [value]))
    assert "absent-key" not in str(caught.value)


def test_development_key_generated_once_and_reused(tmp_path: Path) -> None:
    data_dir = tmp_path / "nested" / ".data"
    first = load_keyset(dev_settings(data_dir))
    path = data_dir / DEVELOPMENT_KEY_FILENAME

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert first.signing.algorithm == "RS256"
    assert [entry.name for entry in data_dir.iterdir()] == [DEVELOPMENT_KEY_FILENAME]
    pem_before = path.read_text()

    second = load_keyset(dev_settings(data_dir))
    assert second.signing.kid == first.signing.kid
    assert path.read_text() == pem_before


def test_development_key_is_kept_when_another_process_wrote_it(tmp_path: Path) -> None:
    existing = generate_private_key_pem("ed25519")
    (tmp_path / DEVELOPMENT_KEY_FILENAME).write_text(existing)
    keys = load_keyset(dev_settings(tmp_path))
    assert keys.signing.kid == load_signing_key(existing).kid


def test_production_without_keys_refused(tmp_path: Path) -> None:
    # Settings itself refuses this; model_construct skips validation to test the second line.
    settings = Settings.model_construct(
        env=Environment.PRODUCTION, signing_keys=[], data_dir=tmp_path
    )
    with pytest.raises(RuntimeError, match="TENANTRY_SIGNING_KEYS is empty"):
        load_keyset(settings)
    assert list(tmp_path.iterdir()) == []
