"""Invitations through the HTTP API: invite, list, revoke, resend, accept, and their limits."""

import asyncio
from datetime import timedelta
from uuid import UUID

import httpx
import pytest
from sqlalchemy import select, update

from tenantry.core.clock import utcnow
from tenantry.core.database import Database
from tenantry.core.runtime import Runtime
from tenantry.core.security.opaque import digest_of
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.audit.models import AuditEvent
from tenantry.tenants.audit.service import AuditContext
from tenantry.tenants.auth.context import identity_context
from tenantry.tenants.invitations.models import Invitation
from tenantry.tenants.invitations.service import invitation_service
from tenantry.tenants.roles.repository import RoleRepository
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import Account, Login, RoleUserFactory, UserFactory, login, token_from
from tests.fixtures.smtp import SmtpSink

INVITATIONS = "/api/v1/invitations"
ACCEPT = f"{INVITATIONS}/accept"
PASSWORD = "a long and unusual passphrase"


@pytest.fixture
async def admin(client: httpx.AsyncClient, tenant: Tenant, make_admin: RoleUserFactory) -> Login:
    await make_admin(tenant, "owner")  # so that invitees do not become the first owner
    return await login(client, await make_admin(tenant))


async def role_id(database: Database, tenant: Tenant, name: str) -> str:
    async with database.tenant_session(tenant.schema) as session:
        role = await RoleRepository(session).by_name(name)
        assert role is not None
        return str(role.id)


async def invite(
    client: httpx.AsyncClient, by: Login, email: str, roles: list[str] | None = None
) -> dict[str, object]:
    response = await client.post(
        INVITATIONS, json={"email": email, "role_ids": roles or []}, headers=by.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, object] = response.json()
    return body


async def accept(
    client: httpx.AsyncClient, tenant: Tenant, token: str, password: str = PASSWORD, **extra: str
) -> httpx.Response:
    return await client.post(
        ACCEPT,
        json={"token": token, "password": password, **extra},
        headers={"X-Tenant": tenant.slug},
    )


async def test_invite_accept_and_sign_in(
    client: httpx.AsyncClient, admin: Login, smtp_sink: SmtpSink, database: Database
) -> None:
    tenant = admin.account.tenant
    manager = await role_id(database, tenant, "manager")
    invitation = await invite(client, admin, "Barbara@Example.com", [manager])
    assert invitation["role_ids"] == [manager]
    assert invitation["invited_by"] == str(admin.account.user_id)
    message = await smtp_sink.wait_for("barbara@example.com")
    assert tenant.display_name in str(message["Subject"])
    token = token_from(message)
    # Only the digest is stored: the token itself is nowhere in the row.
    async with database.tenant_session(tenant.schema) as session:
        row = await session.get(Invitation, UUID(str(invitation["id"])))
        assert row is not None
        assert row.digest == digest_of(token)
        assert token not in repr([getattr(row, c.key) for c in Invitation.__table__.columns])
    accepted = await accept(client, tenant, token, display_name="Barbara L.")
    assert accepted.status_code == 201, accepted.text
    user = accepted.json()
    assert user["email_verified"] is True
    assert user["display_name"] == "Barbara L."
    barbara = await login(
        client, Account(tenant, UUID(user["id"]), "Barbara@Example.com", PASSWORD)
    )
    roles = await client.get(f"/api/v1/users/{user['id']}/roles", headers=admin.headers)
    assert [role["name"] for role in roles.json()] == ["manager"]  # not owner: one exists
    assert (await client.get("/api/v1/users", headers=barbara.headers)).status_code == 200
    pending = (await client.get(INVITATIONS, headers=admin.headers)).json()
    assert pending["items"] == []
    async with database.tenant_session(tenant.schema) as session:
        actions = set(await session.scalars(select(AuditEvent.action)))
    assert {"invitation.created", "invitation.accepted", "user.created"} <= actions


async def test_a_token_works_once(
    client: httpx.AsyncClient, admin: Login, smtp_sink: SmtpSink
) -> None:
    tenant = admin.account.tenant
    await invite(client, admin, "once@example.com")
    token = token_from(await smtp_sink.wait_for("once@example.com"))
    assert (await accept(client, tenant, token)).status_code == 201
    reused = await accept(client, tenant, token)
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_token"
    unknown = await accept(client, tenant, "x" * 43)
    assert unknown.json()["error"] == "invalid_token"


async def test_revoked_invitation_is_dead(
    client: httpx.AsyncClient, admin: Login, smtp_sink: SmtpSink
) -> None:
    tenant = admin.account.tenant
    invitation = await invite(client, admin, "revoked@example.com")
    token = token_from(await smtp_sink.wait_for("revoked@example.com"))
    path = f"{INVITATIONS}/{invitation['id']}"
    assert (await client.delete(path, headers=admin.headers)).status_code == 204
    assert (await accept(client, tenant, token)).json()["error"] == "invalid_token"
    again = await client.delete(path, headers=admin.headers)
    assert again.status_code == 404
    assert again.json()["error"] == "invitation_not_found"
    resend = await client.post(f"{path}/resend", headers=admin.headers)
    assert resend.json()["error"] == "invitation_not_found"
    # The address may be invited afresh once the old invitation is gone.
    await invite(client, admin, "revoked@example.com")


async def test_resend_kills_the_old_token(
    client: httpx.AsyncClient, admin: Login, smtp_sink: SmtpSink, database: Database
) -> None:
    tenant = admin.account.tenant
    invitation = await invite(client, admin, "resent@example.com")
    old = token_from(await smtp_sink.wait_for("resent@example.com"))
    async with database.tenant_transaction(tenant.schema) as session:
        await session.execute(
            update(Invitation)
            .where(Invitation.id == UUID(str(invitation["id"])))
            .values(expires_at=utcnow() - timedelta(minutes=1))
        )
    resent = await client.post(f"{INVITATIONS}/{invitation['id']}/resend", headers=admin.headers)
    assert resent.status_code == 200
    assert resent.json()["expires_at"] > str(invitation["expires_at"])  # renewed, even expired
    new = token_from(await smtp_sink.wait_for("resent@example.com"))
    assert new != old
    assert (await accept(client, tenant, old)).json()["error"] == "invalid_token"
    assert (await accept(client, tenant, new)).status_code == 201


async def test_expired_invitation_is_dead(
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    make_admin: RoleUserFactory,
    smtp_sink: SmtpSink,
    database: Database,
) -> None:
    tenant = await make_tenant(settings={"invitation_days": 3})
    admin = await login(client, await make_admin(tenant))
    invitation = await invite(client, admin, "late@example.com")
    token = token_from(await smtp_sink.wait_for("late@example.com"))
    async with database.tenant_transaction(tenant.schema) as session:
        row = await session.get(Invitation, UUID(str(invitation["id"])))
        assert row is not None
        lifetime = row.expires_at - row.created_at
        assert timedelta(days=3) - timedelta(minutes=1) < lifetime <= timedelta(days=3)
        row.expires_at = utcnow() - timedelta(seconds=1)
    assert (await accept(client, tenant, token)).json()["error"] == "invalid_token"
    pending = (await client.get(INVITATIONS, headers=admin.headers)).json()
    assert pending["items"] == []


async def test_concurrent_accepts_one_wins(
    client: httpx.AsyncClient, admin: Login, smtp_sink: SmtpSink
) -> None:
    tenant = admin.account.tenant
    await invite(client, admin, "race@example.com")
    token = token_from(await smtp_sink.wait_for("race@example.com"))
    first, second = await asyncio.gather(
        accept(client, tenant, token), accept(client, tenant, token, "another fine passphrase")
    )
    assert sorted([first.status_code, second.status_code]) == [201, 400]
    loser = first if first.status_code == 400 else second
    assert loser.json()["error"] == "invalid_token"


async def test_weak_password_leaves_the_invitation_usable(
    client: httpx.AsyncClient, admin: Login, smtp_sink: SmtpSink
) -> None:
    tenant = admin.account.tenant
    await invite(client, admin, "weak@example.com")
    token = token_from(await smtp_sink.wait_for("weak@example.com"))
    weak = await accept(client, tenant, token, "password123")
    assert weak.status_code == 422
    assert (await accept(client, tenant, token)).status_code == 201


async def test_refusals(
    client: httpx.AsyncClient, admin: Login, make_admin: RoleUserFactory, database: Database
) -> None:
    tenant = admin.account.tenant
    taken = await client.post(
        INVITATIONS, json={"email": admin.account.email.upper()}, headers=admin.headers
    )
    assert taken.status_code == 409
    assert taken.json()["error"] == "email_taken"
    await invite(client, admin, "twice@example.com")
    twice = await client.post(
        INVITATIONS, json={"email": "twice@example.com"}, headers=admin.headers
    )
    assert twice.status_code == 409
    assert twice.json()["error"] == "invitation_pending"
    # A manager can neither invite with admin nor resend an admin's invitation of an admin.
    manager = await login(client, await make_admin(tenant, "manager"))
    admin_role = await role_id(database, tenant, "admin")
    escalated = await client.post(
        INVITATIONS,
        json={"email": "boss@example.com", "role_ids": [admin_role]},
        headers=manager.headers,
    )
    assert escalated.status_code == 403
    assert escalated.json()["error"] == "role_escalation"
    by_admin = await invite(client, admin, "boss@example.com", [admin_role])
    resend = await client.post(f"{INVITATIONS}/{by_admin['id']}/resend", headers=manager.headers)
    assert resend.json()["error"] == "role_escalation"
    unknown_role = await client.post(
        INVITATIONS,
        json={"email": "r@example.com", "role_ids": [str(UUID(int=1))]},
        headers=admin.headers,
    )
    assert unknown_role.json()["error"] == "role_not_found"
    bad = await client.post(INVITATIONS, json={"email": "not an email"}, headers=admin.headers)
    assert bad.status_code == 422


async def test_account_created_meanwhile_wins(
    client: httpx.AsyncClient, admin: Login, smtp_sink: SmtpSink, make_user: UserFactory
) -> None:
    tenant = admin.account.tenant
    await invite(client, admin, "meanwhile@example.com")
    token = token_from(await smtp_sink.wait_for("meanwhile@example.com"))
    await make_user(tenant, email="meanwhile@example.com")
    response = await accept(client, tenant, token)
    assert response.status_code == 409
    assert response.json()["error"] == "email_taken"


async def test_pending_list_paginates(
    client: httpx.AsyncClient, admin: Login, smtp_sink: SmtpSink
) -> None:
    tenant = admin.account.tenant
    made = [await invite(client, admin, f"p{i}@example.com") for i in range(7)]
    token = token_from(await smtp_sink.wait_for("p0@example.com"))
    assert (await accept(client, tenant, token)).status_code == 201
    await client.delete(f"{INVITATIONS}/{made[1]['id']}", headers=admin.headers)
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await client.get(INVITATIONS, params=params, headers=admin.headers)).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [str(item["id"]) for item in reversed(made[2:])]  # newest first
    bad = await client.get(INVITATIONS, params={"cursor": "garbage"}, headers=admin.headers)
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_cursor"


async def test_members_cannot_manage_invitations(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory
) -> None:
    member = await login(client, await make_user(tenant))
    for method, path in [
        ("POST", INVITATIONS),
        ("GET", INVITATIONS),
        ("DELETE", f"{INVITATIONS}/{UUID(int=1)}"),
        ("POST", f"{INVITATIONS}/{UUID(int=1)}/resend"),
    ]:
        body = {"email": "x@example.com"} if path == INVITATIONS and method == "POST" else None
        response = await client.request(method, path, json=body, headers=member.headers)
        assert response.status_code == 403, (method, path)
        assert response.json()["error"] == "permission_denied"


async def test_another_tenants_token_is_invalid_here(
    client: httpx.AsyncClient, admin: Login, make_tenant: TenantFactory, smtp_sink: SmtpSink
) -> None:
    await invite(client, admin, "elsewhere@example.com")
    token = token_from(await smtp_sink.wait_for("elsewhere@example.com"))
    other = await make_tenant()
    assert (await accept(client, other, token)).json()["error"] == "invalid_token"
    assert (await accept(client, admin.account.tenant, token)).status_code == 201


async def test_the_first_accepted_user_becomes_owner(
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    runtime: Runtime,
    database: Database,
    smtp_sink: SmtpSink,
) -> None:
    """The control plane's way to give a new tenant its first owner: a system invitation."""
    tenant = await make_tenant()
    ctx = identity_context(runtime, tenant)
    async with database.tenant_transaction(tenant.schema) as session:
        admin_role = await RoleRepository(session).by_name("admin")
        assert admin_role is not None
        invitation, email = await invitation_service.invite(
            session,
            ctx,
            email="founder@example.com",
            role_ids=[admin_role.id],
            invited_by=None,
            audit=AuditContext.system(),
        )
    assert invitation.invited_by is None
    await runtime.mailer.send(email)
    token = token_from(await smtp_sink.wait_for("founder@example.com"))
    founder = await accept(client, tenant, token)
    assert founder.status_code == 201
    signed_in = await login(
        client, Account(tenant, UUID(founder.json()["id"]), "founder@example.com", PASSWORD)
    )
    own = await client.get(f"/api/v1/users/{founder.json()['id']}/roles", headers=signed_in.headers)
    assert sorted(role["name"] for role in own.json()) == ["admin", "owner"]
