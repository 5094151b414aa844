"""What the trail must never hold, and what the database must never let anyone change."""

import json
import uuid

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from tenantry.core.database import Database
from tenantry.core.security.opaque import digest_of
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.audit.service import AuditContext, audit_service
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import UserFactory, login, token_from
from tests.fixtures.smtp import SmtpSink
from tests.tenants.test_audit import (
    NEW_PASSWORD,
    WRONG_PASSWORD,
    audit_rows,
    password_login,
    request_id,
    row_values,
)


async def test_no_secret_reaches_the_trail(
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    make_user: UserFactory,
    database: Database,
    smtp_sink: SmtpSink,
) -> None:
    tenant = await make_tenant(settings={"signup": "open", "lockout_threshold": 2})
    headers = {"X-Tenant": tenant.slug}
    account = await make_user(tenant)
    secrets: list[str] = [account.password, WRONG_PASSWORD, NEW_PASSWORD]

    victim = await make_user(tenant)  # locked out below, with guesses that must not be kept
    for guess in ("Guess-One-Passphrase", "Guess-Two-Passphrase"):
        secrets.append(guess)
        await password_login(client, tenant, request_id(), victim.email, guess)
    await password_login(client, tenant, request_id(), victim.email, victim.password)
    await password_login(client, tenant, request_id(), WRONG_PASSWORD, WRONG_PASSWORD)
    session = await login(client, account)
    secrets += [session.access_token, session.refresh_token]
    refresh = {"grant_type": "refresh_token", "refresh_token": session.refresh_token}
    rotated = (await client.post("/api/v1/oauth/token", data=refresh, headers=headers)).json()
    secrets += [rotated["access_token"], rotated["refresh_token"]]
    await client.post("/api/v1/oauth/token", data=refresh, headers=headers)  # a replay
    second = await login(client, account)
    secrets += [second.access_token, second.refresh_token]
    await client.post(
        "/api/v1/users/me/password",
        json={"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD},
        headers=second.headers,
    )
    await client.post(
        "/api/v1/users/me/password",
        json={"current_password": account.password, "new_password": NEW_PASSWORD},
        headers=second.headers,
    )
    await client.post("/api/v1/oauth/revoke", data={"token": second.access_token}, headers=headers)

    await client.post("/api/v1/auth/password-reset", json={"email": account.email}, headers=headers)
    reset_token = token_from(await smtp_sink.wait_for(account.email))
    secrets.append(reset_token)
    final_password = "the final passphrase of this test"
    secrets.append(final_password)
    await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": reset_token, "new_password": final_password},
        headers=headers,
    )
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    signup_password = "a sign-up passphrase here"
    secrets.append(signup_password)
    await client.post(
        "/api/v1/auth/register", json={"email": email, "password": signup_password}, headers=headers
    )
    verify_token = token_from(await smtp_sink.wait_for(email))
    secrets.append(verify_token)
    await client.post("/api/v1/auth/verify-email", json={"token": verify_token}, headers=headers)

    secrets += [digest_of(secret).hex() for secret in list(secrets)]
    rows = await audit_rows(database, tenant)
    assert {row.action for row in rows} >= {
        "user.login_failed",
        "user.locked_out",
        "user.login_succeeded",
        "session.reuse_detected",
        "user.password_change_failed",
        "user.password_changed",
        "session.revoked",
        "user.password_reset_requested",
        "user.password_reset",
        "user.registered",
        "user.email_verified",
    }
    dumped = json.dumps([row_values(row) for row in rows])
    leaked = [secret for secret in secrets if secret in dumped]
    assert leaked == []


# The trigger function raises SQLSTATE 42501 (insufficient_privilege) for each of these.
REFUSED = [
    "UPDATE \"{schema}\".audit_events SET outcome = 'success'",
    'DELETE FROM "{schema}".audit_events',
    'TRUNCATE "{schema}".audit_events',
]


@pytest.mark.parametrize("statement", REFUSED, ids=["update", "delete", "truncate"])
async def test_database_refuses_to_change_the_trail(
    tenant: Tenant, database: Database, statement: str
) -> None:
    async with database.tenant_transaction(tenant.schema) as session:
        await audit_service.record(
            session, AuditContext.system(), "user.login_failed", outcome="failure"
        )
    before = await audit_rows(database, tenant)
    assert before

    with pytest.raises(DBAPIError) as refused:
        async with database.tenant_transaction(tenant.schema) as session:
            # The schema name comes from the tenant id, as everywhere: no input reaches this SQL.
            await session.execute(text(statement.format(schema=tenant.schema)))
    assert getattr(refused.value.orig, "sqlstate", None) == "42501"
    assert "append-only" in str(refused.value)
    after = await audit_rows(database, tenant)
    assert [row_values(row) for row in after] == [row_values(row) for row in before]
