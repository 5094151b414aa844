"""User administration under attack: escalation, the last owner, members, other tenants, and a
revoked role on a second app instance."""

import asyncio
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from tenantry.core.database import Database
from tenantry.core.runtime import Runtime
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.audit.models import AuditEvent
from tenantry.tenants.invitations.models import Invitation
from tenantry.tenants.roles.models import Role, UserRole
from tenantry.tenants.roles.repository import RoleRepository
from tenantry.tenants.roles.service import assignable_permissions
from tenantry.tenants.users.models import User
from tests.fixtures.app import TenantFactory, client_for, running_app
from tests.fixtures.identity import Login, RoleUserFactory, UserFactory, login

USERS = "/api/v1/users"
PASSWORD = "a long and unusual passphrase"


async def role_ids(database: Database, tenant: Tenant) -> dict[str, str]:
    async with database.tenant_session(tenant.schema) as session:
        return {role.name: str(role.id) for role in await RoleRepository(session).all()}


@dataclass
class Org:
    tenant: Tenant
    roles: dict[str, str]
    owner: Login
    admin: Login
    manager: Login
    member: Login


@pytest.fixture
async def org(
    client: httpx.AsyncClient, tenant: Tenant, make_admin: RoleUserFactory, database: Database
) -> Org:
    logins = [
        await login(client, await make_admin(tenant, role))
        for role in ("owner", "admin", "manager", "member")
    ]
    return Org(tenant, await role_ids(database, tenant), *logins)


async def steward(
    client: httpx.AsyncClient,
    org: Org,
    make_user: UserFactory,
    database: Database,
    runtime: Runtime,
) -> Login:
    """Someone holding every tenant permission through a custom role, owner or not: the only
    kind of caller the last-owner rule still stands in the way of."""
    account = await make_user(org.tenant)
    async with database.tenant_transaction(org.tenant.schema) as session:
        role = Role(name="steward", builtin=False)
        session.add(role)
        await session.flush()
        await RoleRepository(session).set_permissions(role.id, assignable_permissions())
        session.add(UserRole(user_id=account.user_id, role_id=role.id))
    runtime.policies.invalidate(org.tenant.schema)
    return await login(client, account)


async def denied_events(database: Database, tenant: Tenant) -> list[tuple[str, str]]:
    async with database.tenant_session(tenant.schema) as session:
        rows = await session.scalars(
            select(AuditEvent)
            .where(AuditEvent.outcome == "denied")
            .order_by(AuditEvent.occurred_at)
        )
        return [(row.action, row.details["reason"]) for row in rows]


async def test_manager_cannot_grant_admin(
    client: httpx.AsyncClient, org: Org, database: Database
) -> None:
    path = f"{USERS}/{org.member.account.user_id}/roles"
    refused = await client.put(
        path, json={"role_ids": [org.roles["admin"]]}, headers=org.manager.headers
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "role_escalation"
    allowed = await client.put(
        path, json={"role_ids": [org.roles["manager"]]}, headers=org.manager.headers
    )
    assert allowed.status_code == 200
    assert ("user.roles_changed", "role_escalation") in await denied_events(database, org.tenant)


async def test_manager_cannot_create_or_invite_an_admin(
    client: httpx.AsyncClient, org: Org, database: Database
) -> None:
    admin_role = [org.roles["admin"]]
    for body in (
        {"email": "eve@example.com", "password": PASSWORD, "role_ids": admin_role},
        {"email": "eve@example.com", "role_ids": admin_role},
    ):
        response = await client.post(USERS, json=body, headers=org.manager.headers)
        assert response.status_code == 403, body
        assert response.json()["error"] == "role_escalation"
    invited = await client.post(
        "/api/v1/invitations",
        json={"email": "eve@example.com", "role_ids": admin_role},
        headers=org.manager.headers,
    )
    assert invited.json()["error"] == "role_escalation"
    async with database.tenant_session(org.tenant.schema) as session:
        assert await session.scalar(select(User).where(User.email == "eve@example.com")) is None
        assert await session.scalar(select(Invitation)) is None


async def test_nobody_changes_their_own_roles(client: httpx.AsyncClient, org: Org) -> None:
    for who, roles in ((org.admin, ["owner"]), (org.owner, []), (org.manager, ["manager"])):
        response = await client.put(
            f"{USERS}/{who.account.user_id}/roles",
            json={"role_ids": [org.roles[name] for name in roles]},
            headers=who.headers,
        )
        assert response.status_code == 403
        assert response.json()["error"] == "self_role_change"


async def test_admin_cannot_grant_owner(client: httpx.AsyncClient, org: Org) -> None:
    response = await client.put(
        f"{USERS}/{org.member.account.user_id}/roles",
        json={"role_ids": [org.roles["owner"]]},
        headers=org.admin.headers,
    )
    assert response.status_code == 403
    assert response.json()["error"] == "role_escalation"


@pytest.mark.parametrize(
    ("method", "suffix"), [("POST", "/lock"), ("POST", "/disable"), ("DELETE", "")]
)
async def test_last_owner_cannot_be_locked_disabled_or_deleted(
    client: httpx.AsyncClient, org: Org, database: Database, method: str, suffix: str
) -> None:
    path = f"{USERS}/{org.owner.account.user_id}{suffix}"
    response = await client.request(method, path, headers=org.admin.headers)
    assert response.status_code == 409
    assert response.json()["error"] == "last_owner"
    assert (await client.get("/api/v1/users/me", headers=org.owner.headers)).status_code == 200
    assert await denied_events(database, org.tenant)


async def test_last_owner_cannot_be_demoted(
    client: httpx.AsyncClient,
    org: Org,
    make_user: UserFactory,
    database: Database,
    runtime: Runtime,
) -> None:
    path = f"{USERS}/{org.owner.account.user_id}/roles"
    # An admin lacks owners:manage, so escalation answers first.
    by_admin = await client.put(path, json={"role_ids": []}, headers=org.admin.headers)
    assert by_admin.json()["error"] == "role_escalation"
    full = await steward(client, org, make_user, database, runtime)
    demoted = await client.put(path, json={"role_ids": []}, headers=full.headers)
    assert demoted.status_code == 409
    assert demoted.json()["error"] == "last_owner"
    locked = await client.post(f"{USERS}/{org.owner.account.user_id}/lock", headers=full.headers)
    assert locked.json()["error"] == "last_owner"


async def test_with_two_owners_one_may_go_but_not_both(
    client: httpx.AsyncClient, org: Org, make_admin: RoleUserFactory
) -> None:
    second = await login(client, await make_admin(org.tenant, "owner"))
    first_path = f"{USERS}/{org.owner.account.user_id}"
    second_path = f"{USERS}/{second.account.user_id}"
    # Both lock each other at once: the owner role's row lock makes exactly one of them win.
    results = await asyncio.gather(
        client.post(f"{second_path}/lock", headers=org.owner.headers),
        client.post(f"{first_path}/lock", headers=second.headers),
    )
    codes = sorted(response.status_code for response in results)
    assert codes in ([200, 409], [200, 401]), [r.text for r in results]
    owners = (
        await client.get(
            USERS,
            params={"role": org.roles["owner"], "status": "active"},
            headers=org.admin.headers,
        )
    ).json()["items"]
    assert len(owners) == 1


async def test_nobody_locks_disables_or_deletes_themselves(
    client: httpx.AsyncClient, org: Org
) -> None:
    path = f"{USERS}/{org.admin.account.user_id}"
    for method, suffix in (("POST", "/lock"), ("POST", "/disable"), ("DELETE", "")):
        response = await client.request(method, path + suffix, headers=org.admin.headers)
        assert response.status_code == 403
        assert response.json()["error"] == "self_action"


async def test_nobody_acts_on_someone_above_them(
    client: httpx.AsyncClient, org: Org, make_admin: RoleUserFactory
) -> None:
    second_owner = await make_admin(org.tenant, "owner")
    cases = [
        (org.admin, "POST", f"{USERS}/{second_owner.user_id}/lock", None),
        (org.admin, "DELETE", f"{USERS}/{second_owner.user_id}", None),
        (org.admin, "PATCH", f"{USERS}/{second_owner.user_id}", {"email": "mine@example.com"}),
        (org.manager, "PATCH", f"{USERS}/{org.admin.account.user_id}", {"display_name": "x"}),
        (org.manager, "POST", f"{USERS}/{org.admin.account.user_id}/logout", None),
    ]
    for caller, method, path, body in cases:
        response = await client.request(method, path, json=body, headers=caller.headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"] == "outranked"
    peer = await client.patch(
        f"{USERS}/{org.member.account.user_id}",
        json={"display_name": "ok"},
        headers=org.manager.headers,
    )
    assert peer.status_code == 200


ADMIN_ROUTES = [
    ("GET", ""),
    ("POST", ""),
    ("GET", "/{id}"),
    ("PATCH", "/{id}"),
    ("DELETE", "/{id}"),
    ("POST", "/{id}/disable"),
    ("POST", "/{id}/enable"),
    ("POST", "/{id}/lock"),
    ("POST", "/{id}/unlock"),
    ("POST", "/{id}/logout"),
    ("GET", "/{id}/roles"),
    ("PUT", "/{id}/roles"),
]
INVITATION_ROUTES = [("POST", ""), ("GET", ""), ("DELETE", "/{id}"), ("POST", "/{id}/resend")]


def body_for(method: str, path: str) -> dict[str, object] | None:
    if path.endswith("/roles") and method == "PUT":
        return {"role_ids": []}
    if method == "POST" and path.rstrip("/").endswith(("users", "invitations")):
        return {"email": "x@example.com", "password": PASSWORD}
    return {} if method == "PATCH" else None


async def test_members_get_permission_denied(client: httpx.AsyncClient, org: Org) -> None:
    target = org.manager.account.user_id
    for method, suffix in ADMIN_ROUTES:
        path = USERS + suffix.format(id=target)
        response = await client.request(
            method, path, json=body_for(method, path), headers=org.member.headers
        )
        assert response.status_code == 403, (method, path)
        assert response.json()["error"] == "permission_denied"


async def test_other_tenants_get_nothing(
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    make_admin: RoleUserFactory,
    database: Database,
) -> None:
    tenant_a, tenant_b = await make_tenant(), await make_tenant()
    intruder = await login(client, await make_admin(tenant_a, "owner"))
    owner_b = await login(client, await make_admin(tenant_b, "owner"))
    victim = await login(client, await make_admin(tenant_b, "manager"))
    invited = await client.post(
        "/api/v1/invitations", json={"email": "new@example.com"}, headers=owner_b.headers
    )
    invitation_id = invited.json()["id"]
    routes = [("/api/v1/users" + s, m, victim.account.user_id) for m, s in ADMIN_ROUTES] + [
        ("/api/v1/invitations" + s, m, invitation_id) for m, s in INVITATION_ROUTES
    ]
    crossed = {**intruder.headers, "X-Tenant": tenant_b.slug}
    for template, method, target in routes:
        path = template.replace("{id}", str(target))
        body = body_for(method, path)
        # Tenant A's token on tenant B's host: refused before anything is looked up.
        response = await client.request(method, path, json=body, headers=crossed)
        assert response.status_code == 401, (method, path)
        # Tenant B's ids on tenant A's own host: as unknown as any random id.
        if "{id}" in template:
            response = await client.request(method, path, json=body, headers=intruder.headers)
            assert response.status_code == 404, (method, path)
            assert response.json()["error"] in {"user_not_found", "invitation_not_found"}
    # Nothing changed in B.
    assert (await client.get("/api/v1/users/me", headers=victim.headers)).status_code == 200
    seen = (await client.get(f"{USERS}/{victim.account.user_id}", headers=owner_b.headers)).json()
    assert seen["status"] == "active"
    assert [role["name"] for role in seen["roles"]] == ["manager"]
    pending = (await client.get("/api/v1/invitations", headers=owner_b.headers)).json()
    assert [item["id"] for item in pending["items"]] == [invitation_id]
    assert pending["items"][0]["last_sent_at"] == invited.json()["last_sent_at"]
    async with database.tenant_session(tenant_b.schema) as session:
        acted = await session.scalar(
            select(AuditEvent).where(AuditEvent.actor_id == intruder.account.user_id)
        )
    assert acted is None


async def test_revoked_role_stops_working_on_a_second_instance(
    client: httpx.AsyncClient, org: Org, make_user: UserFactory, settings: Settings
) -> None:
    account = await make_user(org.tenant)
    path = f"{USERS}/{account.user_id}/roles"
    granted = await client.put(
        path, json={"role_ids": [org.roles["admin"]]}, headers=org.owner.headers
    )
    assert granted.status_code == 200
    promoted = await login(client, account)
    async with running_app(settings) as replica, client_for(replica) as other:
        assert (await other.get(USERS, headers=promoted.headers)).status_code == 200
        revoked = await client.put(path, json={"role_ids": []}, headers=org.owner.headers)
        assert revoked.status_code == 200
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        status = 200
        while status != 403 and loop.time() < deadline:
            status = (await other.get(USERS, headers=promoted.headers)).status_code
            if status != 403:
                await asyncio.sleep(0.02)
        assert status == 403, "the second instance still honours the revoked role after 1 s"
