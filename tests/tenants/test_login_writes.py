"""What a successful password login leaves in the tenant's schema: it is written by one
statement (`LoginRepository`), so each of its parts is checked here row by row."""

from datetime import timedelta

import argon2
import bcrypt
import httpx
from sqlalchemy import select, update

from tenantry.core.clock import utcnow
from tenantry.core.database import Database
from tenantry.core.runtime import Runtime
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.audit.models import AuditEvent
from tenantry.tenants.auth.models import AuthSession, RefreshToken
from tenantry.tenants.users.models import User
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import Account, UserFactory, token_request

USER_AGENT = "login-writes-test/1.0"


async def log_in(client: httpx.AsyncClient, account: Account) -> httpx.Response:
    form = {"grant_type": "password", "username": account.email, "password": account.password}
    headers = {"X-Tenant": account.tenant.slug, "User-Agent": USER_AGENT}
    return await client.post("/api/v1/oauth/token", data=form, headers=headers)


async def test_a_login_writes_its_user_session_refresh_token_and_audit_event(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, database: Database
) -> None:
    account = await make_user(tenant)
    async with database.tenant_transaction(account.tenant.schema) as session:
        await session.execute(
            update(User).where(User.id == account.user_id).values(failed_login_count=2)
        )
    before = utcnow()

    response = await log_in(client, account)

    assert response.status_code == 200
    async with database.tenant_session(account.tenant.schema) as session:
        user = await session.get(User, account.user_id)
        assert user is not None
        assert user.failed_login_count == 0
        assert user.locked_until is None
        assert user.last_login_at is not None
        assert user.last_login_at >= before
        sessions = (
            await session.scalars(select(AuthSession).where(AuthSession.user_id == user.id))
        ).all()
        assert len(sessions) == 1
        opened = sessions[0]
        assert opened.user_agent == USER_AGENT
        assert opened.ip_address is not None
        assert opened.revoked_at is None
        assert opened.last_used_at == user.last_login_at
        assert opened.idle_expires_at <= opened.expires_at
        assert opened.expires_at - opened.last_used_at == timedelta(days=30)
        refresh = (
            await session.scalars(select(RefreshToken).where(RefreshToken.session_id == opened.id))
        ).all()
        assert len(refresh) == 1
        assert refresh[0].used_at is None
        events = (
            await session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == "user.login_succeeded",
                    AuditEvent.target_id == str(user.id),
                )
            )
        ).all()
        assert len(events) == 1
        event = events[0]
        assert event.actor_id == user.id
        assert event.actor_type == "user"
        assert event.outcome == "success"
        assert event.details == {"session_id": str(opened.id)}
        assert event.request_id == response.headers["x-request-id"]
    # The refresh token handed out is the row written: it rotates.
    rotated = await token_request(
        client, account.tenant, grant_type="refresh_token",
        refresh_token=response.json()["refresh_token"],
    )  # fmt: skip
    assert rotated.status_code == 200


async def test_a_login_upgrades_a_legacy_hash_in_the_same_statement(
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    make_user: UserFactory,
    database: Database,
    runtime: Runtime,
) -> None:
    tenant = await make_tenant()
    account = await make_user(tenant)
    legacy = bcrypt.hashpw(account.password.encode(), bcrypt.gensalt(rounds=4)).decode()
    async with database.tenant_transaction(tenant.schema) as session:
        await session.execute(
            update(User).where(User.id == account.user_id).values(password_hash=legacy)
        )

    assert (await log_in(client, account)).status_code == 200

    async with database.tenant_session(tenant.schema) as session:
        stored = await session.scalar(select(User.password_hash).where(User.id == account.user_id))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert (await runtime.hasher.verify(stored, account.password)).ok
    current = argon2.extract_parameters(await runtime.hasher.hash("any password"))
    assert argon2.extract_parameters(stored) == current
    # A current hash is left alone on the next login.
    assert (await log_in(client, account)).status_code == 200
    async with database.tenant_session(tenant.schema) as session:
        again = await session.scalar(select(User.password_hash).where(User.id == account.user_id))
    assert again == stored
