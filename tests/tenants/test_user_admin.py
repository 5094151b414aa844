"""User administration through the HTTP API: every route's happy path, and what it changes."""

import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select, update

from tenantry.core.clock import utcnow
from tenantry.core.database import Database
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.audit.models import AuditEvent
from tenantry.tenants.roles.repository import RoleRepository
from tenantry.tenants.users.models import User
from tests.fixtures.identity import (
    Account,
    Login,
    RoleUserFactory,
    UserFactory,
    login,
    token_from,
    token_request,
)
from tests.fixtures.smtp import SmtpSink

USERS = "/api/v1/users"
NEW_PASSWORD = "a long and unusual passphrase"


@pytest.fixture
async def admin(client: httpx.AsyncClient, tenant: Tenant, make_admin: RoleUserFactory) -> Login:
    return await login(client, await make_admin(tenant))


async def role_id(database: Database, tenant: Tenant, name: str) -> str:
    async with database.tenant_session(tenant.schema) as session:
        role = await RoleRepository(session).by_name(name)
        assert role is not None
        return str(role.id)


async def audit_trail(database: Database, tenant: Tenant) -> list[AuditEvent]:
    async with database.tenant_session(tenant.schema) as session:
        rows = await session.scalars(select(AuditEvent).order_by(AuditEvent.occurred_at))
        return list(rows)


async def last_event(database: Database, tenant: Tenant, action: str) -> AuditEvent:
    found = [row for row in await audit_trail(database, tenant) if row.action == action]
    assert found, f"no {action} in the audit trail"
    return found[-1]


async def test_create_with_password_and_read(
    client: httpx.AsyncClient, admin: Login, database: Database
) -> None:
    tenant = admin.account.tenant
    manager = await role_id(database, tenant, "manager")
    body = {
        "email": "grace@example.com",
        "password": NEW_PASSWORD,
        "display_name": "Grace",
        "given_name": "Grace",
        "family_name": "Hopper",
        "role_ids": [manager],
    }
    created = await client.post(USERS, json=body, headers=admin.headers)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email_verified"] is False
    assert user["status"] == "active"
    assert [role["name"] for role in user["roles"]] == ["manager"]
    assert user["locked_until"] is None
    assert "password_hash" not in user
    read = await client.get(f"{USERS}/{user['id']}", headers=admin.headers)
    assert read.json() == user
    grace = await login(client, Account(tenant, uuid.UUID(user["id"]), user["email"], NEW_PASSWORD))
    assert (await client.get(USERS, headers=grace.headers)).status_code == 200  # as a manager
    event = await last_event(database, tenant, "user.created")
    assert event.actor_id == admin.account.user_id
    assert event.target_id == user["id"]
    assert event.details == {"via": "admin", "roles": ["manager"]}


async def test_create_verified_duplicate_and_weak(client: httpx.AsyncClient, admin: Login) -> None:
    body = {"email": "Linus@Example.com", "password": NEW_PASSWORD, "email_verified": True}
    created = await client.post(USERS, json=body, headers=admin.headers)
    assert created.status_code == 201
    assert created.json()["email_verified"] is True
    again = await client.post(
        USERS, json={**body, "email": "linus@example.com"}, headers=admin.headers
    )
    assert again.status_code == 409
    assert again.json()["error"] == "email_taken"
    invite = await client.post(USERS, json={"email": "LINUS@example.com"}, headers=admin.headers)
    assert invite.json()["error"] == "email_taken"
    weak = await client.post(
        USERS, json={"email": "weak@example.com", "password": "password123"}, headers=admin.headers
    )
    assert weak.status_code == 422
    unknown_role = await client.post(
        USERS,
        json={"email": "r@example.com", "password": NEW_PASSWORD, "role_ids": [str(uuid.uuid4())]},
        headers=admin.headers,
    )
    assert unknown_role.status_code == 404
    assert unknown_role.json()["error"] == "role_not_found"


async def test_create_without_password_invites(
    client: httpx.AsyncClient, admin: Login, smtp_sink: SmtpSink, database: Database
) -> None:
    tenant = admin.account.tenant
    member = await role_id(database, tenant, "member")
    response = await client.post(
        USERS, json={"email": "ken@example.com", "role_ids": [member]}, headers=admin.headers
    )
    assert response.status_code == 202, response.text
    invitation = response.json()
    assert invitation["email"] == "ken@example.com"
    assert invitation["role_ids"] == [member]
    message = await smtp_sink.wait_for("ken@example.com")
    assert "/accept-invitation?token=" in str(message.get_body(preferencelist=("plain",)))
    listed = await client.get(USERS, params={"q": "ken@"}, headers=admin.headers)
    assert listed.json()["items"] == []  # no user until the invitation is accepted
    accepted = await client.post(
        "/api/v1/invitations/accept",
        json={"token": token_from(message), "password": NEW_PASSWORD},
        headers=admin.account.headers,
    )
    assert accepted.status_code == 201
    with_profile = await client.post(
        USERS, json={"email": "dennis@example.com", "display_name": "D"}, headers=admin.headers
    )
    assert with_profile.status_code == 422
    assert with_profile.json()["fields"][0]["loc"] == ["body", "display_name"]


async def test_patch_profile_and_email(
    client: httpx.AsyncClient,
    admin: Login,
    make_user: UserFactory,
    smtp_sink: SmtpSink,
    database: Database,
) -> None:
    tenant = admin.account.tenant
    account = await make_user(tenant, email="old@example.com")
    path = f"{USERS}/{account.user_id}"
    # A reset link mailed to the old address must die with the address.
    await client.post(
        "/api/v1/auth/password-reset", json={"email": "old@example.com"}, headers=account.headers
    )
    reset_token = token_from(await smtp_sink.wait_for("old@example.com"))
    patched = await client.patch(
        path, json={"display_name": "New Name", "locale": "fr-FR"}, headers=admin.headers
    )
    assert patched.status_code == 200
    assert patched.json()["display_name"] == "New Name"
    assert patched.json()["email_verified"] is True
    moved = await client.patch(path, json={"email": "new@example.com"}, headers=admin.headers)
    assert moved.json()["email"] == "new@example.com"
    assert moved.json()["email_verified"] is False
    confirm = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": reset_token, "new_password": NEW_PASSWORD},
        headers=account.headers,
    )
    assert confirm.json()["error"] == "invalid_token"
    vouched = await client.patch(
        path, json={"email": "vouched@example.com", "email_verified": True}, headers=admin.headers
    )
    assert vouched.json()["email_verified"] is True
    taken = await client.patch(
        path, json={"email": admin.account.email.upper()}, headers=admin.headers
    )
    assert taken.status_code == 409
    assert taken.json()["error"] == "email_taken"
    for bad in ({"email": None}, {"status": "active"}, {"password_hash": "x"}):
        assert (await client.patch(path, json=bad, headers=admin.headers)).status_code == 422
    event = await last_event(database, tenant, "user.updated")
    assert event.details == {"fields": ["email", "email_verified"]}


async def test_lock_and_unlock(
    client: httpx.AsyncClient, admin: Login, make_user: UserFactory, database: Database
) -> None:
    tenant = admin.account.tenant
    account = await make_user(tenant)
    session = await login(client, account)
    locked = await client.post(f"{USERS}/{account.user_id}/lock", headers=admin.headers)
    assert locked.status_code == 200
    assert locked.json()["status"] == "locked"
    assert (await client.get("/api/v1/users/me", headers=session.headers)).status_code == 401
    refused = await token_request(
        client, tenant, grant_type="password", username=account.email, password=account.password
    )
    assert refused.status_code == 400
    async with database.tenant_transaction(tenant.schema) as db:
        await db.execute(
            update(User)
            .where(User.id == account.user_id)
            .values(failed_login_count=4, locked_until=utcnow() + timedelta(hours=1))
        )
    unlocked = await client.post(f"{USERS}/{account.user_id}/unlock", headers=admin.headers)
    assert unlocked.json()["status"] == "active"
    assert unlocked.json()["locked_until"] is None
    async with database.tenant_session(tenant.schema) as db:
        user = await db.get(User, account.user_id)
        assert user is not None
        assert user.failed_login_count == 0
    await login(client, account)
    event = await last_event(database, tenant, "user.locked")
    assert event.details == {"from": "active", "to": "locked", "sessions_revoked": 1}
    assert (await last_event(database, tenant, "user.unlocked")).target_id == str(account.user_id)


async def test_disable_and_enable(
    client: httpx.AsyncClient, admin: Login, make_user: UserFactory, database: Database
) -> None:
    tenant = admin.account.tenant
    account = await make_user(tenant)
    session = await login(client, account)
    disabled = await client.post(f"{USERS}/{account.user_id}/disable", headers=admin.headers)
    assert disabled.json()["status"] == "disabled"
    assert (await client.get("/api/v1/users/me", headers=session.headers)).status_code == 401
    stale = await token_request(
        client, tenant, grant_type="refresh_token", refresh_token=session.refresh_token
    )
    assert stale.status_code == 400
    # Disabled is the stronger state: a lock leaves it, an unlock does not enable.
    relock = await client.post(f"{USERS}/{account.user_id}/lock", headers=admin.headers)
    assert relock.json()["status"] == "disabled"
    enabled = await client.post(f"{USERS}/{account.user_id}/enable", headers=admin.headers)
    assert enabled.json()["status"] == "active"
    await login(client, account)
    actions = [row.action for row in await audit_trail(database, tenant)]
    assert {"user.disabled", "user.enabled", "user.locked"} <= set(actions)


async def test_delete_is_hard(
    client: httpx.AsyncClient, admin: Login, make_user: UserFactory, database: Database
) -> None:
    tenant = admin.account.tenant
    account = await make_user(tenant, email="gone@example.com", display_name="Gone")
    session = await login(client, account)
    manager = await role_id(database, tenant, "manager")
    await client.put(
        f"{USERS}/{account.user_id}/roles", json={"role_ids": [manager]}, headers=admin.headers
    )
    path = f"{USERS}/{account.user_id}"
    deleted = await client.delete(path, headers=admin.headers)
    assert deleted.status_code == 204
    assert (await client.get(path, headers=admin.headers)).status_code == 404
    assert (await client.get("/api/v1/users/me", headers=session.headers)).status_code == 401
    again = await client.delete(path, headers=admin.headers)
    assert again.json()["error"] == "user_not_found"
    event = await last_event(database, tenant, "user.deleted")
    assert event.target_id == str(account.user_id)
    # The trail keeps ids, never the deleted person's address or name.
    for row in await audit_trail(database, tenant):
        assert "gone@example.com" not in str(row.details)
        assert "Gone" not in str(row.details)
    # The address is free again at once.
    reuse = await client.post(
        USERS, json={"email": "gone@example.com", "password": NEW_PASSWORD}, headers=admin.headers
    )
    assert reuse.status_code == 201


async def test_force_logout(
    client: httpx.AsyncClient, admin: Login, make_user: UserFactory, database: Database
) -> None:
    tenant = admin.account.tenant
    account = await make_user(tenant)
    first, second = await login(client, account), await login(client, account)
    response = await client.post(f"{USERS}/{account.user_id}/logout", headers=admin.headers)
    assert response.json() == {"revoked_sessions": 2}
    for gone in (first, second):
        assert (await client.get("/api/v1/users/me", headers=gone.headers)).status_code == 401
    stale = await token_request(
        client, tenant, grant_type="refresh_token", refresh_token=first.refresh_token
    )
    assert stale.status_code == 400
    await login(client, account)  # the account itself still works
    event = await last_event(database, tenant, "user.sessions_revoked")
    assert event.details == {"sessions_revoked": 2}


async def test_read_and_replace_roles(
    client: httpx.AsyncClient, admin: Login, make_user: UserFactory, database: Database
) -> None:
    tenant = admin.account.tenant
    account = await make_user(tenant)
    path = f"{USERS}/{account.user_id}/roles"
    assert (await client.get(path, headers=admin.headers)).json() == []
    manager = await role_id(database, tenant, "manager")
    member = await role_id(database, tenant, "member")
    put = await client.put(path, json={"role_ids": [member, manager]}, headers=admin.headers)
    assert put.status_code == 200
    assert [role["name"] for role in put.json()] == ["manager", "member"]
    assert (await client.get(path, headers=admin.headers)).json() == put.json()
    demoted = await client.put(path, json={"role_ids": [member]}, headers=admin.headers)
    assert [role["name"] for role in demoted.json()] == ["member"]
    event = await last_event(database, tenant, "user.roles_changed")
    assert event.details == {"added": [], "removed": ["manager"]}
    assert event.actor_id == admin.account.user_id


async def test_unknown_ids_are_404(client: httpx.AsyncClient, admin: Login) -> None:
    nobody = uuid.uuid4()
    for method, path in [
        ("GET", f"{USERS}/{nobody}"),
        ("PATCH", f"{USERS}/{nobody}"),
        ("DELETE", f"{USERS}/{nobody}"),
        ("POST", f"{USERS}/{nobody}/lock"),
        ("POST", f"{USERS}/{nobody}/logout"),
        ("GET", f"{USERS}/{nobody}/roles"),
        ("PUT", f"{USERS}/{nobody}/roles"),
    ]:
        body: dict[str, list[str]] | None = {"role_ids": []} if method == "PUT" else None
        body = {} if method == "PATCH" else body
        response = await client.request(method, path, json=body, headers=admin.headers)
        assert response.status_code == 404, (method, path)
        assert response.json()["error"] == "user_not_found"
