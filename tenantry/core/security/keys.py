"""Signing keys for access tokens: loaded from settings, named by their RFC 7638 thumbprint.

The first configured key signs; every configured key verifies, so a rotation is "prepend the new
key, wait one token lifetime, drop the old one". Only asymmetric keys exist here, so whatever
verifies a token (this service's replicas, or anyone reading the JWKS) holds nothing that signs.
"""

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import structlog
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa

from tenantry.core.settings import Settings

log = structlog.get_logger(__name__)

PrivateKey = rsa.RSAPrivateKey | ed25519.Ed25519PrivateKey
PublicKey = rsa.RSAPublicKey | ed25519.Ed25519PublicKey
Algorithm = Literal["RS256", "EdDSA"]

# RFC 7518 section 3.3: RSA keys for RS256 MUST be 2048 bits or larger.
RSA_MIN_BITS = 2048
DEVELOPMENT_KEY_FILENAME = "signing-key.pem"
_PEM_MARKER = "-----BEGIN"
# PKCS#8 encrypted keys, and OpenSSL's traditional encrypted format (RFC 1421 headers).
_ENCRYPTED_PEM_MARKERS = frozenset(
    {"-----BEGIN ENCRYPTED PRIVATE KEY-----", "Proc-Type: 4,ENCRYPTED"}
)


class SigningKeyError(ValueError):
    """A configured signing key cannot be used; the message says why, never the key itself."""


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64url_uint(value: int) -> str:
    # Base64urlUInt, RFC 7518 section 2: unsigned big-endian, shortest form (zero is one octet).
    return _b64url(value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big"))


def _thumbprint_members(public_key: PublicKey) -> dict[str, str]:
    """The required JWK members of RFC 7638 section 3.2 (RSA) and RFC 8037 section 2 (OKP)."""
    if isinstance(public_key, rsa.RSAPublicKey):
        numbers = public_key.public_numbers()
        return {"e": _b64url_uint(numbers.e), "kty": "RSA", "n": _b64url_uint(numbers.n)}
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": _b64url(raw)}


def jwk_thumbprint(public_key: PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): a key id derived from the key itself."""
    # Section 3.3: required members only, lexicographic order, no whitespace, UTF-8.
    canonical = json.dumps(_thumbprint_members(public_key), sort_keys=True, separators=(",", ":"))
    return _b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


@dataclass(frozen=True)
class SigningKey:
    kid: str
    algorithm: str
    private_key: PrivateKey = field(repr=False)
    public_key: PublicKey = field(repr=False)

    def __post_init__(self) -> None:
        # One key, one algorithm (RFC 8725 section 3.1): the pairing is fixed here so no caller
        # can verify an RSA key under another algorithm.
        expected = algorithm_for(self.private_key)
        if self.algorithm != expected:
            raise SigningKeyError(f"a {type(self.private_key).__name__} signs with {expected}")

    @classmethod
    def from_private_key(cls, private_key: PrivateKey) -> "SigningKey":
        """Wrap a private key: algorithm from its type, kid from its public half."""
        public_key = private_key.public_key()
        return cls(jwk_thumbprint(public_key), algorithm_for(private_key), private_key, public_key)

    def public_jwk(self) -> dict[str, str]:
        """The public JWK (RFC 7517 section 4) as published in the JWKS; never private members."""
        # `use` alone, not `key_ops`: RFC 7517 section 4.3 says not to send both.
        return {
            **_thumbprint_members(self.public_key),
            "kid": self.kid,
            "use": "sig",
            "alg": self.algorithm,
        }


def algorithm_for(private_key: PrivateKey) -> Algorithm:
    """The one JWS algorithm a key is used with: RS256 for RSA, EdDSA for Ed25519."""
    if isinstance(private_key, rsa.RSAPrivateKey):
        return "RS256"
    if isinstance(private_key, ed25519.Ed25519PrivateKey):
        return "EdDSA"
    raise SigningKeyError(f"unsupported key type {type(private_key).__name__}")


class KeySet:
    """The configured keys in order: the first signs, all verify."""

    def __init__(self, keys: Iterable[SigningKey]) -> None:
        self._keys = tuple(keys)
        if not self._keys:
            raise SigningKeyError("a key set needs at least one key")
        self._by_kid: dict[str, SigningKey] = {}
        for key in self._keys:
            if key.kid in self._by_kid:
                raise SigningKeyError(f"signing key {key.kid} is configured twice")
            self._by_kid[key.kid] = key

    @property
    def signing(self) -> SigningKey:
        return self._keys[0]

    @property
    def keys(self) -> tuple[SigningKey, ...]:
        return self._keys

    @property
    def algorithms(self) -> tuple[str, ...]:
        """The algorithms of the configured keys, for discovery documents."""
        return tuple(dict.fromkeys(key.algorithm for key in self._keys))

    def find(self, kid: str) -> SigningKey | None:
        """The key with this id, or None; a token's `kid` picks the key, never its `alg`."""
        return self._by_kid.get(kid)

    def jwks(self) -> dict[str, list[dict[str, str]]]:
        """The public JWK Set document (RFC 7517 section 5) for `/.well-known/jwks.json`."""
        return {"keys": [key.public_jwk() for key in self._keys]}

    def __iter__(self) -> Iterator[SigningKey]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


def load_signing_key(pem: str, *, label: str = "signing key") -> SigningKey:
    """Parse one unencrypted PEM private key (PKCS#8 or traditional) into a `SigningKey`."""
    if _ENCRYPTED_PEM_MARKERS.intersection(line.strip() for line in pem.splitlines()):
        raise SigningKeyError(_encrypted_message(label))
    try:
        private_key = serialization.load_pem_private_key(pem.encode("utf-8"), password=None)
    except TypeError:
        # cryptography's answer to an encrypted key read without a password.
        raise SigningKeyError(_encrypted_message(label)) from None
    except (ValueError, UnsupportedAlgorithm):
        # `from None`: the parser's message may quote parts of the input.
        raise SigningKeyError(f"{label} is not a valid PEM private key") from None
    if isinstance(private_key, rsa.RSAPrivateKey):
        if private_key.key_size < RSA_MIN_BITS:
            raise SigningKeyError(
                f"{label} is a {private_key.key_size}-bit RSA key; "
                f"RSA keys need at least {RSA_MIN_BITS} bits"
            )
    elif not isinstance(private_key, ed25519.Ed25519PrivateKey):
        raise SigningKeyError(
            f"{label} is {_describe(private_key)}; use an RSA key "
            f"(at least {RSA_MIN_BITS} bits, RS256) or an Ed25519 key (EdDSA)"
        )
    return SigningKey.from_private_key(private_key)


def _describe(private_key: object) -> str:
    if isinstance(private_key, ec.EllipticCurvePrivateKey):
        return f"an EC key on {private_key.curve.name}"
    if isinstance(private_key, ed448.Ed448PrivateKey):
        return "an Ed448 key"
    if isinstance(private_key, dsa.DSAPrivateKey):
        return "a DSA key"
    return f"a key of type {type(private_key).__name__}"


def _encrypted_message(label: str) -> str:
    # The service starts unattended, so there is nobody to type a passphrase: keep the key
    # unencrypted in a secret store (Kubernetes Secret, Vault) instead.
    return f"{label} is an encrypted PEM; provide it unencrypted from a secret store"


def _read_pem(value: str, label: str) -> str:
    text = value.strip()
    if _PEM_MARKER in text:
        return text
    try:
        return Path(text).expanduser().read_text(encoding="utf-8")
    except (OSError, UnicodeError, ValueError) as exc:
        # The value is not echoed: a mangled PEM without its header would be a secret in the log.
        reason = getattr(exc, "strerror", None) or type(exc).__name__
        raise SigningKeyError(
            f"{label} is neither PEM text nor a readable PEM file ({reason})"
        ) from None


def load_keyset(settings: Settings) -> KeySet:
    """The key set from TENANTRY_SIGNING_KEYS; in development a generated key under data_dir."""
    pems = [
        _read_pem(item.get_secret_value(), f"signing key #{position}")
        for position, item in enumerate(settings.signing_keys, start=1)
    ]
    if pems:
        return KeySet(
            load_signing_key(pem, label=f"signing key #{position}")
            for position, pem in enumerate(pems, start=1)
        )
    if not settings.is_development:
        # Settings refuses this too; checked again because a key set is a security boundary.
        raise RuntimeError(
            "TENANTRY_SIGNING_KEYS is empty: production needs at least one PEM private key "
            "(RSA of 2048 bits or more, or Ed25519), e.g. from `openssl genpkey -algorithm "
            "ed25519`"
        )
    path = settings.data_dir / DEVELOPMENT_KEY_FILENAME
    return KeySet([load_signing_key(_development_key_pem(path), label=str(path))])


def _development_key_pem(path: Path) -> str:
    # RSA-2048 rather than Ed25519: RS256 is the one algorithm every OpenID Connect client must
    # accept (OIDC Discovery 1.0 section 3), so development tokens work in any library or tool
    # that a developer points at the local service. Generated once, so its cost does not matter.
    if not path.exists():
        _publish_private_file(path, generate_private_key_pem("rsa"))
        log.warning("keys.development_key_generated", path=str(path))
    return path.read_text(encoding="utf-8")


def _publish_private_file(path: Path, text: str) -> None:
    """Write `text` to `path` with mode 0600, atomically, unless another process got there first."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    # mkstemp creates the file 0600 from the start, so the key is never readable by others, not
    # even for a moment; link() publishes it whole and fails if a concurrent worker won the race.
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-")
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass  # the other process's key is complete; everyone uses that one
    finally:
        os.unlink(temporary)


def generate_private_key_pem(kind: Literal["rsa", "ed25519"] = "rsa") -> str:
    """A new unencrypted PKCS#8 PEM private key: RSA-2048 or Ed25519."""
    private_key: PrivateKey
    if kind == "rsa":
        private_key = rsa.generate_private_key(public_exponent=65537, key_size=RSA_MIN_BITS)
    elif kind == "ed25519":
        private_key = ed25519.Ed25519PrivateKey.generate()
    else:
        raise ValueError(f"unknown key kind {kind!r}; expected 'rsa' or 'ed25519'")
    return private_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode("ascii")
