"""What the attack suites share: every tenant route with a valid example request, two populated
tenants, and ways to prove that nothing was read or written."""

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from sqlalchemy import event, text

from tenantry.core.database import Database
from tenantry.core.dependencies import current_tenant
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.auth.dependencies import access_claims
from tenantry.tenants.router import tenant_routers
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import Account, Login, RoleUserFactory, UserFactory, login

NEW_PASSWORD = "another long passphrase"
FAKE_TOKEN = "t" * 43


@dataclass
class Org:
    """A tenant with one of everything a route can name."""

    tenant: Tenant
    owner: Login
    member: Account
    role_id: str
    invitation_id: str

    @property
    def session_id(self) -> str:
        claims = jwt.decode(self.owner.access_token, options={"verify_signature": False})
        sid: str = claims["sid"]
        return sid


@dataclass
class Example:
    """A request that would succeed for the org's owner, were nothing in the way."""

    path: str
    json: Any = None
    data: dict[str, str] | None = None
    params: dict[str, str] = field(default_factory=dict)

    def send_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"params": self.params}
        if self.json is not None:
            kwargs["json"] = self.json
        if self.data is not None:
            kwargs["data"] = self.data
        return kwargs


def _tag() -> str:
    return uuid.uuid4().hex[:8]


def _admin_action(action: str) -> Callable[[Org], Example]:
    return lambda org: Example(f"/api/v1/users/{org.member.user_id}/{action}")


# One valid request per tenant route, built from an org. Path parameters come from the org.
EXAMPLES: dict[tuple[str, str], Callable[[Org], Example]] = {
    ("POST", "/api/v1/oauth/token"): lambda org: Example(
        "/api/v1/oauth/token",
        data={
            "grant_type": "password",
            "username": org.owner.account.email,
            "password": org.owner.account.password,
        },
    ),
    ("POST", "/api/v1/oauth/revoke"): lambda org: Example(
        "/api/v1/oauth/revoke", data={"token": org.owner.refresh_token}
    ),
    ("POST", "/api/v1/auth/logout"): lambda org: Example("/api/v1/auth/logout"),
    ("POST", "/api/v1/auth/logout-all"): lambda org: Example("/api/v1/auth/logout-all"),
    ("POST", "/api/v1/auth/register"): lambda org: Example(
        "/api/v1/auth/register",
        json={"email": f"new-{_tag()}@example.com", "password": NEW_PASSWORD},
    ),
    ("POST", "/api/v1/auth/verify-email"): lambda org: Example(
        "/api/v1/auth/verify-email", json={"token": FAKE_TOKEN}
    ),
    ("POST", "/api/v1/auth/verify-email/resend"): lambda org: Example(
        "/api/v1/auth/verify-email/resend"
    ),
    ("POST", "/api/v1/auth/password-reset"): lambda org: Example(
        "/api/v1/auth/password-reset", json={"email": org.member.email}
    ),
    ("POST", "/api/v1/auth/password-reset/confirm"): lambda org: Example(
        "/api/v1/auth/password-reset/confirm",
        json={"token": FAKE_TOKEN, "new_password": NEW_PASSWORD},
    ),
    ("GET", "/api/v1/users/me"): lambda org: Example("/api/v1/users/me"),
    ("PATCH", "/api/v1/users/me"): lambda org: Example(
        "/api/v1/users/me", json={"display_name": "pwned"}
    ),
    ("POST", "/api/v1/users/me/password"): lambda org: Example(
        "/api/v1/users/me/password",
        json={"current_password": org.owner.account.password, "new_password": NEW_PASSWORD},
    ),
    ("GET", "/api/v1/users/me/sessions"): lambda org: Example("/api/v1/users/me/sessions"),
    ("DELETE", "/api/v1/users/me/sessions/{session_id}"): lambda org: Example(
        f"/api/v1/users/me/sessions/{org.session_id}"
    ),
    ("GET", "/api/v1/users"): lambda org: Example("/api/v1/users"),
    ("POST", "/api/v1/users"): lambda org: Example(
        "/api/v1/users", json={"email": f"made-{_tag()}@example.com", "password": NEW_PASSWORD}
    ),
    ("GET", "/api/v1/users/{user_id}"): lambda org: Example(f"/api/v1/users/{org.member.user_id}"),
    ("PATCH", "/api/v1/users/{user_id}"): lambda org: Example(
        f"/api/v1/users/{org.member.user_id}", json={"display_name": "pwned"}
    ),
    ("DELETE", "/api/v1/users/{user_id}"): lambda org: Example(
        f"/api/v1/users/{org.member.user_id}"
    ),
    **{
        ("POST", f"/api/v1/users/{{user_id}}/{action}"): _admin_action(action)
        for action in ("disable", "enable", "lock", "unlock", "logout")
    },
    ("GET", "/api/v1/users/{user_id}/roles"): lambda org: Example(
        f"/api/v1/users/{org.member.user_id}/roles"
    ),
    ("PUT", "/api/v1/users/{user_id}/roles"): lambda org: Example(
        f"/api/v1/users/{org.member.user_id}/roles", json={"role_ids": [org.role_id]}
    ),
    ("POST", "/api/v1/invitations"): lambda org: Example(
        "/api/v1/invitations", json={"email": f"invited-{_tag()}@example.com"}
    ),
    ("GET", "/api/v1/invitations"): lambda org: Example("/api/v1/invitations"),
    ("DELETE", "/api/v1/invitations/{invitation_id}"): lambda org: Example(
        f"/api/v1/invitations/{org.invitation_id}"
    ),
    ("POST", "/api/v1/invitations/{invitation_id}/resend"): lambda org: Example(
        f"/api/v1/invitations/{org.invitation_id}/resend"
    ),
    ("POST", "/api/v1/invitations/accept"): lambda org: Example(
        "/api/v1/invitations/accept", json={"token": FAKE_TOKEN, "password": NEW_PASSWORD}
    ),
    ("GET", "/api/v1/roles"): lambda org: Example("/api/v1/roles"),
    ("POST", "/api/v1/roles"): lambda org: Example(
        "/api/v1/roles", json={"name": f"pwned {_tag()}", "permissions": ["users:read"]}
    ),
    ("GET", "/api/v1/roles/{role_id}"): lambda org: Example(f"/api/v1/roles/{org.role_id}"),
    ("PATCH", "/api/v1/roles/{role_id}"): lambda org: Example(
        f"/api/v1/roles/{org.role_id}", json={"description": "pwned"}
    ),
    ("DELETE", "/api/v1/roles/{role_id}"): lambda org: Example(f"/api/v1/roles/{org.role_id}"),
    ("GET", "/.well-known/jwks.json"): lambda org: Example("/.well-known/jwks.json"),
    ("GET", "/.well-known/openid-configuration"): lambda org: Example(
        "/.well-known/openid-configuration"
    ),
    ("GET", "/.well-known/oauth-authorization-server"): lambda org: Example(
        "/.well-known/oauth-authorization-server"
    ),
    ("GET", "/api/v1/audit-events"): lambda org: Example("/api/v1/audit-events"),
}


def _uses(dependant: Dependant, call: object) -> bool:
    return any(dep.call is call or _uses(dep, call) for dep in dependant.dependencies)


@dataclass(frozen=True)
class Route:
    method: str
    path: str
    needs_token: bool
    needs_tenant: bool

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def names_an_id(self) -> bool:
        return "{" in self.path

    def example(self, org: Org) -> Example:
        return EXAMPLES[(self.method, self.path)](org)


def tenant_routes() -> list[Route]:
    """Every route of the tenant plane, from the routers themselves."""
    return [
        Route(
            method,
            route.path,
            needs_token=_uses(route.dependant, access_claims),
            needs_tenant=_uses(route.dependant, current_tenant),
        )
        for router in tenant_routers()
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in sorted(route.methods or ())
    ]


def route_ids(routes: list[Route]) -> list[str]:
    return [route.label for route in routes]


async def build_org(
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    make_admin: RoleUserFactory,
    make_user: UserFactory,
) -> Org:
    tenant = await make_tenant()
    owner = await login(client, await make_admin(tenant, "owner"))
    member = await make_user(tenant)
    role = await client.post(
        "/api/v1/roles",
        json={"name": f"custom {_tag()}", "permissions": ["users:read"]},
        headers=owner.headers,
    )
    invitation = await client.post(
        "/api/v1/invitations",
        json={"email": f"pending-{_tag()}@example.com"},
        headers=owner.headers,
    )
    assert role.status_code == 201, role.text
    assert invitation.status_code == 201, invitation.text
    return Org(tenant, owner, member, role.json()["id"], invitation.json()["id"])


async def snapshot(database: Database, tenant: Tenant) -> dict[str, str]:
    """A digest of every row of every table in the tenant's schema."""
    async with database.engine.connect() as connection:
        tables = (
            await connection.execute(
                text("SELECT table_name FROM information_schema.tables WHERE table_schema = :s"),
                {"s": tenant.schema},
            )
        ).scalars()
        digests = {}
        for table in sorted(tables):
            # Names from the catalog, quoted: tests may build SQL the tenant plane may not.
            rows = f'"{tenant.schema}"."{table}" AS t'
            digest = "md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), ''))"
            query = text(f"SELECT {digest} FROM {rows}")  # noqa: S608
            digests[table] = str(await connection.scalar(query))
        return digests


@contextmanager
def pool_checkouts(database: Database) -> Iterator[list[object]]:
    """Every connection taken from the pool while the block runs (the listener has its own)."""
    taken: list[object] = []
    pool = database.engine.sync_engine.pool

    def on_checkout(dbapi_connection: object, *_: object) -> None:
        taken.append(dbapi_connection)

    event.listen(pool, "checkout", on_checkout)
    try:
        yield taken
    finally:
        event.remove(pool, "checkout", on_checkout)


def host_for(tenant: Tenant) -> str:
    return f"{tenant.slug}.localhost"
