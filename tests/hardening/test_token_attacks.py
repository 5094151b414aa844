"""Forged and tampered access tokens against every authenticated tenant route.

Each forgery starts from a real token of a real owner and changes one thing, so that the request
would succeed if the check that stops it were gone. tests/tenants/test_token_endpoint.py tries a
few on one route; here every kind goes to every route, and nothing may be read or written.
"""

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tenantry.core.database import Database
from tenantry.core.runtime import Runtime
from tenantry.core.security.tokens import issue_access_token
from tenantry.core.settings import Settings
from tenantry.tenants.auth.context import issuer_for
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import RoleUserFactory, UserFactory
from tests.hardening.attacks import Org, build_org, pool_checkouts, snapshot, tenant_routes

AUTHENTICATED = [route for route in tenant_routes() if route.needs_token]


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64_json(value: dict[str, Any]) -> str:
    return b64(json.dumps(value).encode())


class Forger:
    """Makes tokens out of a real one: its claims, its header, the app's own keys."""

    def __init__(self, org: Org, other: Org, runtime: Runtime, settings: Settings) -> None:
        self.token = org.owner.access_token
        self.header = jwt.get_unverified_header(self.token)
        self.claims: dict[str, Any] = jwt.decode(self.token, options={"verify_signature": False})
        self.runtime = runtime
        self.issuer = issuer_for(settings, org.tenant)
        self.other_tenant_id = str(other.tenant.id)
        self.attacker_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def sign(self, **changes: Any) -> str:
        """A token signed with the app's real key, with `changes` to the real claims."""
        claims = {**self.claims, **changes}
        now = int(time.time())
        issued_at = changes.get("iat", now)
        token, _ = issue_access_token(
            self.runtime.keys,
            issuer=claims["iss"],
            audience=claims["aud"],
            subject=claims["sub"],
            tenant_id=claims["tid"],
            session_id=claims["sid"],
            ttl_seconds=claims["exp"] - issued_at if "exp" in changes else 300,
            scope=claims.get("scope", ""),
            now=issued_at,
        )
        return token

    def alg_none(self) -> str:
        header = {**self.header, "alg": "none"}
        return f"{b64_json(header)}.{b64_json(self.claims)}."

    def hs256_keyed_with_public_key(self) -> str:
        # The RS/HS confusion: the public key (which anyone can fetch from the JWKS) as HMAC secret.
        public_pem = self.runtime.keys.signing.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        signing_input = f"{b64_json({**self.header, 'alg': 'HS256'})}.{b64_json(self.claims)}"
        mac = hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest()
        return f"{signing_input}.{b64(mac)}"

    def stripped_signature(self) -> str:
        header, payload, _ = self.token.split(".")
        return f"{header}.{payload}."

    def tampered_payload(self) -> str:
        header, _, signature = self.token.split(".")
        payload = b64_json({**self.claims, "exp": self.claims["exp"] + 86_400})
        return f"{header}.{payload}.{signature}"

    def unknown_kid(self) -> str:
        return jwt.encode(
            self.claims, self.attacker_key, "RS256", headers={**self.header, "kid": "attacker-key"}
        )

    def known_kid_foreign_key(self) -> str:
        return jwt.encode(self.claims, self.attacker_key, "RS256", headers=self.header)

    def not_an_access_token(self) -> str:
        # An ID token or any other JWT under the same keys (RFC 9068 section 4: explicit typing).
        key = self.runtime.keys.signing
        return jwt.encode(
            self.claims, key.private_key, key.algorithm, headers={**self.header, "typ": "JWT"}
        )


FORGERIES: dict[str, Callable[[Forger], str]] = {
    "alg-none": Forger.alg_none,
    "hs256-keyed-with-the-public-key": Forger.hs256_keyed_with_public_key,
    "stripped-signature": Forger.stripped_signature,
    "tampered-payload": Forger.tampered_payload,
    "unknown-kid": Forger.unknown_kid,
    "known-kid-foreign-key": Forger.known_kid_foreign_key,
    "wrong-typ": Forger.not_an_access_token,
    "expired": lambda forger: forger.sign(iat=int(time.time()) - 3600, exp=int(time.time()) - 600),
    "other-issuer": lambda forger: forger.sign(iss="https://attacker.example"),
    "other-audience": lambda forger: forger.sign(aud="another-resource-server"),
    "minted-for-another-tenant": lambda forger: forger.sign(tid=forger.other_tenant_id),
}


@pytest.fixture(scope="module")
async def forger(
    http: httpx.AsyncClient,
    org: Org,
    make_tenant: TenantFactory,
    make_admin: RoleUserFactory,
    make_user: UserFactory,
    runtime: Runtime,
    settings: Settings,
) -> Forger:
    other = await build_org(http, make_tenant, make_admin, make_user)
    return Forger(org, other, runtime, settings)


async def test_the_genuine_token_works_everywhere_a_forgery_is_tried(
    http: httpx.AsyncClient, org: Org, forger: Forger
) -> None:
    # Without this, a forgery refused for another reason (a wrong claim copied in) would pass.
    assert forger.sign() != org.owner.access_token
    for token in (org.owner.access_token, forger.sign()):
        headers = {**org.owner.headers, "Authorization": f"Bearer {token}"}
        assert (await http.get("/api/v1/users/me", headers=headers)).status_code == 200
        assert (await http.get("/api/v1/audit-events", headers=headers)).status_code == 200


@pytest.mark.parametrize("kind", FORGERIES)
async def test_forged_token_gets_401_on_every_route(
    kind: str,
    http: httpx.AsyncClient,
    org: Org,
    forger: Forger,
    database: Database,
    runtime: Runtime,
) -> None:
    token = FORGERIES[kind](forger)
    before = await snapshot(database, org.tenant)
    answered: dict[str, object] = {}
    with pool_checkouts(database) as reads:
        for route in AUTHENTICATED:
            runtime.policies.invalidate(org.tenant.schema)
            example = route.example(org)
            response = await http.request(
                route.method,
                example.path,
                headers={**org.owner.headers, "Authorization": f"Bearer {token}"},
                **example.send_kwargs(),
            )
            body = response.json()
            if (
                response.status_code != 401
                or body.get("error") != "invalid_token"
                or not response.headers.get("www-authenticate", "").startswith("Bearer")
            ):
                answered[route.label] = (response.status_code, body)
    assert answered == {}
    assert reads == [], "the database was read before the token was refused"
    assert await snapshot(database, org.tenant) == before
