"""Custom roles: CRUD, escalation rules, tenant isolation, and changes reaching every replica."""

import asyncio
from collections.abc import Awaitable, Callable
from uuid import uuid4

import httpx
import pytest

from tenantry.core.database import Database
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.roles.models import UserRole
from tenantry.tenants.roles.repository import RoleRepository
from tenantry.tenants.roles.service import role_service
from tenantry.tenants.users.models import User
from tests.fixtures.app import TenantFactory, client_for, running_app
from tests.fixtures.identity import Account, Login, UserFactory, login

Grant = Callable[[Account, str], Awaitable[None]]


@pytest.fixture
def grant(database: Database) -> Grant:
    """Give an account a role by name, as the system would (no escalation checks)."""

    async def give(account: Account, role_name: str) -> None:
        async with database.tenant_transaction(account.tenant.schema) as session:
            role = await RoleRepository(session).by_name(role_name)
            assert role is not None, role_name
            session.add(UserRole(user_id=account.user_id, role_id=role.id))

    return give


async def login_as(
    client: httpx.AsyncClient, make_user: UserFactory, grant: Grant, tenant: Tenant, role: str
) -> Login:
    account = await make_user(tenant)
    if role != "member":
        await grant(account, role)
    return await login(client, account)


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 1.0) -> bool:
    """Cache invalidation travels by NOTIFY, after the commit: give it up to a second."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while loop.time() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.02)
    return await check()


async def test_roles_list_needs_roles_read(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, grant: Grant
) -> None:
    manager = await login_as(client, make_user, grant, tenant, "manager")
    member = await login_as(client, make_user, grant, tenant, "member")
    listed = await client.get("/api/v1/roles", headers=manager.headers)
    assert listed.status_code == 200
    by_name = {role["name"]: role for role in listed.json()}
    assert {"owner", "admin", "manager", "member"} <= by_name.keys()
    assert "owners:manage" in by_name["owner"]["permissions"]
    assert by_name["admin"]["builtin"] is True
    denied = await client.get("/api/v1/roles", headers=member.headers)
    assert denied.status_code == 403
    assert denied.json()["error"] == "permission_denied"


async def test_custom_role_lifecycle_and_effect(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, grant: Grant
) -> None:
    admin = await login_as(client, make_user, grant, tenant, "admin")
    created = await client.post(
        "/api/v1/roles",
        json={
            "name": "Auditor",
            "description": "reads the trail",
            "permissions": ["audit:read", "roles:read"],
        },
        headers=admin.headers,
    )
    assert created.status_code == 201, created.text
    role = created.json()
    assert role["permissions"] == ["audit:read", "roles:read"]

    holder = await make_user(tenant)
    await grant(holder, "Auditor")
    holder_login = await login(client, holder)

    async def can_list_roles() -> bool:
        response = await client.get("/api/v1/roles", headers=holder_login.headers)
        return response.status_code == 200

    assert await eventually(can_list_roles)

    renamed = await client.patch(
        f"/api/v1/roles/{role['id']}", json={"name": "Trail Reader"}, headers=admin.headers
    )
    assert renamed.json()["name"] == "Trail Reader"
    assert await can_list_roles()  # custom roles are keyed by id: a rename changes nothing

    narrowed = await client.patch(
        f"/api/v1/roles/{role['id']}", json={"permissions": ["audit:read"]}, headers=admin.headers
    )
    assert narrowed.status_code == 200

    async def refused() -> bool:
        return not await can_list_roles()

    assert await eventually(refused)


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"name": "x", "permissions": []}, 422, "validation_error"),
        ({"name": "Bad", "permissions": ["users:fly"]}, 422, "validation_error"),
        ({"name": "Bad", "permissions": ["platform:tenants"]}, 422, "validation_error"),
        ({"name": "admin", "permissions": []}, 409, "role_name_taken"),
        ({"name": "Settings", "permissions": ["tenant:settings"]}, 403, "role_escalation"),
        ({"name": "Owners", "permissions": ["owners:manage"]}, 403, "role_escalation"),
    ],
)
async def test_role_creation_rules(
    client: httpx.AsyncClient,
    tenant: Tenant,
    make_user: UserFactory,
    grant: Grant,
    body: dict[str, object],
    status: int,
    code: str,
) -> None:
    admin = await login_as(client, make_user, grant, tenant, "admin")
    response = await client.post("/api/v1/roles", json=body, headers=admin.headers)
    assert response.status_code == status, response.text
    assert response.json()["error"] == code


async def test_duplicate_names_ignore_case(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, grant: Grant
) -> None:
    admin = await login_as(client, make_user, grant, tenant, "admin")
    body = {"name": "Support", "permissions": ["users:read"]}
    assert (await client.post("/api/v1/roles", json=body, headers=admin.headers)).status_code == 201
    again = await client.post(
        "/api/v1/roles", json={**body, "name": "SUPPORT"}, headers=admin.headers
    )
    assert again.json()["error"] == "role_name_taken"


async def test_builtin_roles_are_immutable(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, grant: Grant
) -> None:
    owner = await login_as(client, make_user, grant, tenant, "owner")
    roles = (await client.get("/api/v1/roles", headers=owner.headers)).json()
    builtin = next(role for role in roles if role["name"] == "manager")
    patched = await client.patch(
        f"/api/v1/roles/{builtin['id']}", json={"permissions": []}, headers=owner.headers
    )
    deleted = await client.delete(f"/api/v1/roles/{builtin['id']}", headers=owner.headers)
    assert patched.json()["error"] == deleted.json()["error"] == "builtin_role_immutable"


async def test_delete_refused_while_assigned_then_reassigned(
    client: httpx.AsyncClient,
    tenant: Tenant,
    make_user: UserFactory,
    grant: Grant,
    database: Database,
) -> None:
    admin = await login_as(client, make_user, grant, tenant, "admin")
    make = await client.post(
        "/api/v1/roles", json={"name": "Temp", "permissions": ["users:read"]}, headers=admin.headers
    )
    temp_id = make.json()["id"]
    holder = await make_user(tenant)
    await grant(holder, "Temp")
    refused = await client.delete(f"/api/v1/roles/{temp_id}", headers=admin.headers)
    assert refused.status_code == 409
    assert refused.json()["error"] == "role_in_use"

    roles = (await client.get("/api/v1/roles", headers=admin.headers)).json()
    manager_id = next(role["id"] for role in roles if role["name"] == "manager")
    moved = await client.delete(
        f"/api/v1/roles/{temp_id}", params={"reassign_to": manager_id}, headers=admin.headers
    )
    assert moved.status_code == 204
    async with database.tenant_session(tenant.schema) as session:
        held = await role_service.roles_of(session, holder.user_id)
    assert [role.name for role in held] == ["manager"]
    gone = await client.get(f"/api/v1/roles/{temp_id}", headers=admin.headers)
    assert gone.json()["error"] == "role_not_found"


async def test_reassigning_to_a_role_above_the_caller_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, grant: Grant
) -> None:
    admin = await login_as(client, make_user, grant, tenant, "admin")
    temp = await client.post(
        "/api/v1/roles", json={"name": "Temp2", "permissions": []}, headers=admin.headers
    )
    holder = await make_user(tenant)
    await grant(holder, "Temp2")
    roles = (await client.get("/api/v1/roles", headers=admin.headers)).json()
    owner_id = next(role["id"] for role in roles if role["name"] == "owner")
    response = await client.delete(
        f"/api/v1/roles/{temp.json()['id']}",
        params={"reassign_to": owner_id},
        headers=admin.headers,
    )
    assert response.json()["error"] == "role_escalation"


async def test_roles_of_another_tenant_are_out_of_reach(
    client: httpx.AsyncClient, make_tenant: TenantFactory, make_user: UserFactory, grant: Grant
) -> None:
    tenant_a, tenant_b = await make_tenant(), await make_tenant()
    admin_a = await login_as(client, make_user, grant, tenant_a, "admin")
    admin_b = await login_as(client, make_user, grant, tenant_b, "admin")
    role_b = (
        await client.post(
            "/api/v1/roles", json={"name": "B only", "permissions": []}, headers=admin_b.headers
        )
    ).json()
    crossed = {**admin_a.headers, "X-Tenant": tenant_b.slug}
    for method, path in [
        ("GET", "/api/v1/roles"),
        ("POST", "/api/v1/roles"),
        ("GET", f"/api/v1/roles/{role_b['id']}"),
        ("PATCH", f"/api/v1/roles/{role_b['id']}"),
        ("DELETE", f"/api/v1/roles/{role_b['id']}"),
    ]:
        response = await client.request(method, path, headers=crossed, json={"name": "Zz"})
        assert response.status_code == 401, (method, path)
    for method, path in [
        ("GET", f"/api/v1/roles/{role_b['id']}"),
        ("PATCH", f"/api/v1/roles/{role_b['id']}"),
        ("DELETE", f"/api/v1/roles/{role_b['id']}"),
    ]:
        response = await client.request(method, path, headers=admin_a.headers, json={"name": "Zz"})
        assert response.status_code == 404, (method, path)
    still = await client.get(f"/api/v1/roles/{role_b['id']}", headers=admin_b.headers)
    assert still.json()["name"] == "B only"
    listed_a = (await client.get("/api/v1/roles", headers=admin_a.headers)).json()
    assert role_b["id"] not in {role["id"] for role in listed_a}


async def test_revoked_role_stops_working_on_a_second_instance(
    client: httpx.AsyncClient,
    settings: Settings,
    tenant: Tenant,
    make_user: UserFactory,
    grant: Grant,
    database: Database,
) -> None:
    account = await make_user(tenant)
    await grant(account, "manager")
    session = await login(client, account)
    async with running_app(settings) as replica, client_for(replica) as other:
        assert (await other.get("/api/v1/roles", headers=session.headers)).status_code == 200
        async with database.tenant_transaction(tenant.schema) as db:
            user = await db.get(User, account.user_id)
            assert user is not None
            policy = await role_service.load_policy(db, tenant)
            await role_service.set_user_roles(db, policy, actor=None, target=user, role_ids=[])

        async def denied() -> bool:
            response = await other.get("/api/v1/roles", headers=session.headers)
            return response.status_code == 403

        assert await eventually(denied, seconds=1.0)


async def test_unknown_role_id_is_404(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, grant: Grant
) -> None:
    admin = await login_as(client, make_user, grant, tenant, "admin")
    response = await client.get(f"/api/v1/roles/{uuid4()}", headers=admin.headers)
    assert response.json()["error"] == "role_not_found"
