"""Every security-relevant identity event leaves one audit row, failures included: who, what,
which target, request id and address."""

import json
import uuid
from collections.abc import Sequence

import httpx
import pytest
from sqlalchemy import select

from tenantry.core.database import Database
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.audit.models import AuditEvent
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import Account, Login, UserFactory, login, token_from, token_request
from tests.fixtures.smtp import SmtpSink

NEW_PASSWORD = "a brand new passphrase"
WRONG_PASSWORD = "Wr0ng-Guess-Passphrase"
CLIENT_IP = "127.0.0.1"  # httpx's ASGI transport reports this client address


def request_id() -> str:
    return f"req-{uuid.uuid4().hex[:12]}"


async def audit_rows(database: Database, tenant: Tenant) -> list[AuditEvent]:
    async with database.tenant_session(tenant.schema) as session:
        result = await session.scalars(
            select(AuditEvent).order_by(AuditEvent.occurred_at, AuditEvent.id)
        )
        return list(result.all())


async def rows_of(database: Database, tenant: Tenant, rid: str) -> list[AuditEvent]:
    """The events of one request: each call below sends its own X-Request-ID."""
    return [row for row in await audit_rows(database, tenant) if row.request_id == rid]


async def only_row(database: Database, tenant: Tenant, rid: str, action: str) -> AuditEvent:
    rows = [row for row in await rows_of(database, tenant, rid) if row.action == action]
    assert len(rows) == 1, [(row.action, row.details) for row in rows]
    assert rows[0].ip_address == CLIENT_IP
    return rows[0]


async def password_login(
    client: httpx.AsyncClient, tenant: Tenant, rid: str, username: str, password: str
) -> httpx.Response:
    return await client.post(
        "/api/v1/oauth/token",
        data={"grant_type": "password", "username": username, "password": password},
        headers={"X-Tenant": tenant.slug, "X-Request-ID": rid},
    )


def with_id(headers: dict[str, str], rid: str) -> dict[str, str]:
    return {**headers, "X-Request-ID": rid}


async def test_login_succeeded(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, database: Database
) -> None:
    account = await make_user(tenant)
    rid = request_id()
    response = await password_login(client, tenant, rid, account.email, account.password)
    assert response.status_code == 200
    row = await only_row(database, tenant, rid, "user.login_succeeded")
    assert (row.outcome, row.actor_type, row.actor_id) == ("success", "user", account.user_id)
    assert (row.target_type, row.target_id) == ("user", str(account.user_id))
    assert uuid.UUID(row.details["session_id"])


async def test_failed_logins_are_kept_despite_the_error(
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    make_user: UserFactory,
    database: Database,
) -> None:
    tenant = await make_tenant(settings={"lockout_threshold": 2})
    account = await make_user(tenant)

    first = request_id()
    response = await password_login(client, tenant, first, account.email, WRONG_PASSWORD)
    assert response.status_code == 400
    row = await only_row(database, tenant, first, "user.login_failed")
    assert (row.outcome, row.actor_type, row.actor_id) == ("failure", "anonymous", None)
    assert (row.target_type, row.target_id) == ("user", str(account.user_id))
    assert row.details == {"reason": "invalid_password"}

    second = request_id()
    await password_login(client, tenant, second, account.email, WRONG_PASSWORD)
    locked = await only_row(database, tenant, second, "user.locked_out")
    assert (locked.target_type, locked.target_id) == ("user", str(account.user_id))
    assert locked.details["failures"] == 2
    assert (await only_row(database, tenant, second, "user.login_failed")).details == {
        "reason": "invalid_password"
    }

    third = request_id()
    response = await password_login(client, tenant, third, account.email, account.password)
    assert response.status_code == 400
    row = await only_row(database, tenant, third, "user.login_failed")
    assert row.details == {"reason": "locked"}
    assert row.target_id == str(account.user_id)


async def test_failed_login_of_an_unknown_user_keeps_nothing_typed(
    client: httpx.AsyncClient, tenant: Tenant, database: Database
) -> None:
    # People type passwords into the username field: that field must not reach the trail.
    typed_username = "Hunter2-typed-in-the-wrong-field"
    rid = request_id()
    response = await password_login(client, tenant, rid, typed_username, WRONG_PASSWORD)
    assert response.status_code == 400
    row = await only_row(database, tenant, rid, "user.login_failed")
    assert (row.outcome, row.actor_id, row.target_type, row.target_id) == (
        "failure",
        None,
        None,
        None,
    )
    assert row.details == {"reason": "unknown_user"}
    assert typed_username not in json.dumps(row_values(row))


async def test_failed_login_of_a_disabled_user(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, database: Database
) -> None:
    account = await make_user(tenant, status="disabled")
    rid = request_id()
    response = await password_login(client, tenant, rid, account.email, account.password)
    assert response.status_code == 400
    row = await only_row(database, tenant, rid, "user.login_failed")
    assert row.details == {"reason": "disabled"}
    assert row.target_id == str(account.user_id)


async def test_session_events(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, database: Database
) -> None:
    account = await make_user(tenant)
    first, second, third, fourth = [await login(client, account) for _ in range(4)]
    user_id = str(account.user_id)

    rid = request_id()
    response = await client.post("/api/v1/auth/logout", headers=with_id(first.headers, rid))
    assert response.status_code == 204
    row = await only_row(database, tenant, rid, "user.logged_out")
    assert (row.actor_id, row.target_type, row.target_id) == (account.user_id, "user", user_id)
    assert uuid.UUID(row.details["session_id"])

    other = await session_id_of(client, third)
    rid = request_id()
    ended = await client.delete(
        f"/api/v1/users/me/sessions/{other}", headers=with_id(second.headers, rid)
    )
    assert ended.status_code == 204
    row = await only_row(database, tenant, rid, "session.revoked")
    assert (row.actor_id, row.target_type, row.target_id) == (account.user_id, "session", other)
    assert row.details == {"reason": "user_revoked", "user_id": user_id}

    rid = request_id()
    revoked = await client.post(
        "/api/v1/oauth/revoke",
        data={"token": fourth.refresh_token},
        headers={"X-Tenant": tenant.slug, "X-Request-ID": rid},
    )
    assert revoked.status_code == 200
    row = await only_row(database, tenant, rid, "session.revoked")
    assert (row.actor_id, row.actor_type, row.target_type) == (account.user_id, "user", "session")
    assert row.details == {"reason": "revoked", "user_id": user_id}

    rid = request_id()
    everywhere = await client.post("/api/v1/auth/logout-all", headers=with_id(second.headers, rid))
    assert everywhere.status_code == 204
    row = await only_row(database, tenant, rid, "user.logged_out_everywhere")
    assert (row.actor_id, row.target_id) == (account.user_id, user_id)
    assert row.details == {"sessions_revoked": 1}  # the others had ended already


async def session_id_of(client: httpx.AsyncClient, session: Login) -> str:
    listed = await client.get("/api/v1/users/me/sessions", headers=session.headers)
    return next(str(item["id"]) for item in listed.json() if item["current"])


async def test_refresh_token_reuse(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, database: Database
) -> None:
    account = await make_user(tenant)
    session = await login(client, account)
    form = {"grant_type": "refresh_token", "refresh_token": session.refresh_token}
    headers = {"X-Tenant": tenant.slug}
    assert (await client.post("/api/v1/oauth/token", data=form, headers=headers)).is_success
    rid = request_id()
    replay = await client.post("/api/v1/oauth/token", data=form, headers=with_id(headers, rid))
    assert replay.status_code == 400
    row = await only_row(database, tenant, rid, "session.reuse_detected")
    assert (row.outcome, row.actor_type, row.actor_id) == ("failure", "anonymous", None)
    assert row.target_type == "session"
    assert row.details == {"reason": "refresh_reuse", "user_id": str(account.user_id)}


async def test_password_change(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, database: Database
) -> None:
    account = await make_user(tenant)
    session, _other = await login(client, account), await login(client, account)
    rid = request_id()
    wrong = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": WRONG_PASSWORD, "new_password": NEW_PASSWORD},
        headers=with_id(session.headers, rid),
    )
    assert wrong.status_code == 400
    row = await only_row(database, tenant, rid, "user.password_change_failed")
    assert (row.outcome, row.actor_id, row.target_id) == (
        "failure",
        account.user_id,
        str(account.user_id),
    )
    assert row.details == {"reason": "invalid_current_password"}

    rid = request_id()
    done = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": account.password, "new_password": NEW_PASSWORD},
        headers=with_id(session.headers, rid),
    )
    assert done.status_code == 204
    row = await only_row(database, tenant, rid, "user.password_changed")
    assert (row.outcome, row.actor_id, row.target_id) == (
        "success",
        account.user_id,
        str(account.user_id),
    )
    assert row.details == {"sessions_revoked": 1}


async def test_password_reset(
    client: httpx.AsyncClient,
    tenant: Tenant,
    make_user: UserFactory,
    database: Database,
    smtp_sink: SmtpSink,
) -> None:
    account = await make_user(tenant)
    headers = {"X-Tenant": tenant.slug}
    rid = request_id()
    asked = await client.post(
        "/api/v1/auth/password-reset",
        json={"email": account.email},
        headers=with_id(headers, rid),
    )
    assert asked.status_code == 202
    row = await only_row(database, tenant, rid, "user.password_reset_requested")
    # Anyone may ask for anyone's reset: the requester is not the account's owner.
    assert (row.actor_type, row.actor_id, row.target_id) == (
        "anonymous",
        None,
        str(account.user_id),
    )
    token = token_from(await smtp_sink.wait_for(account.email))

    unknown = request_id()
    ghost = f"ghost-{uuid.uuid4().hex[:8]}@example.com"
    response = await client.post(
        "/api/v1/auth/password-reset", json={"email": ghost}, headers=with_id(headers, unknown)
    )
    assert response.status_code == 202
    assert await rows_of(database, tenant, unknown) == []

    rid = request_id()
    done = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": NEW_PASSWORD},
        headers=with_id(headers, rid),
    )
    assert done.status_code == 200
    row = await only_row(database, tenant, rid, "user.password_reset")
    assert (row.actor_type, row.actor_id, row.target_id) == (
        "user",
        account.user_id,
        str(account.user_id),
    )


async def test_registration_and_email_verification(
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    database: Database,
    smtp_sink: SmtpSink,
) -> None:
    tenant = await make_tenant(settings={"signup": "open"})
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    headers = {"X-Tenant": tenant.slug}
    rid = request_id()
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": NEW_PASSWORD},
        headers=with_id(headers, rid),
    )
    assert response.status_code == 202
    row = await only_row(database, tenant, rid, "user.registered")
    assert row.actor_type == "user"
    assert row.actor_id is not None
    assert (row.target_type, row.target_id) == ("user", str(row.actor_id))
    user_id = row.actor_id

    token = token_from(await smtp_sink.wait_for(email))
    rid = request_id()
    verified = await client.post(
        "/api/v1/auth/verify-email", json={"token": token}, headers=with_id(headers, rid)
    )
    assert verified.status_code == 200
    row = await only_row(database, tenant, rid, "user.email_verified")
    assert (row.actor_id, row.target_id) == (user_id, str(user_id))


async def test_profile_update_names_fields_not_values(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, database: Database
) -> None:
    session = await login(client, await make_user(tenant))
    rid = request_id()
    response = await client.patch(
        "/api/v1/users/me",
        json={"display_name": "Grace Hopper", "locale": "en-US"},
        headers=with_id(session.headers, rid),
    )
    assert response.status_code == 200
    row = await only_row(database, tenant, rid, "user.profile_updated")
    assert row.details == {"fields": ["display_name", "locale"]}
    assert "Grace Hopper" not in json.dumps(row_values(row))


def row_values(row: AuditEvent) -> dict[str, object]:
    return {column: str(getattr(row, column)) for column in AuditEvent.__table__.columns.keys()}


def actions_of(rows: Sequence[AuditEvent]) -> list[str]:
    return [row.action for row in rows]


async def test_rolled_back_requests_leave_no_row(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, database: Database
) -> None:
    # A weak new password fails validation after the current one checked out: the request's
    # transaction rolls back, and no "password changed" event claims otherwise.
    account: Account = await make_user(tenant)
    session = await login(client, account)
    rid = request_id()
    weak = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": account.password, "new_password": "password"},
        headers=with_id(session.headers, rid),
    )
    assert weak.status_code == 422
    assert actions_of(await rows_of(database, tenant, rid)) == []


async def test_audited_events_are_logged_under_their_action(
    client: httpx.AsyncClient,
    tenant: Tenant,
    make_user: UserFactory,
    capfd: pytest.CaptureFixture[str],
) -> None:
    account = await make_user(tenant)
    session = await login(client, account)
    capfd.readouterr()
    await client.patch("/api/v1/users/me", json={"bio": "hello"}, headers=session.headers)
    await token_request(
        client, tenant, grant_type="password", username=account.email, password="wrong-one-123"
    )
    events = [
        json.loads(line) for line in capfd.readouterr().out.splitlines() if line.startswith("{")
    ]
    updated = [e for e in events if e["event"] == "user.profile_updated"]
    failed = [e for e in events if e["event"] == "user.login_failed"]
    assert len(updated) == 1
    assert updated[0]["outcome"] == "success"
    assert updated[0]["target_id"] == str(account.user_id)
    assert updated[0]["details"] == {"fields": ["bio"]}
    assert len(failed) == 1
    assert failed[0]["level"] == "warning"
    assert failed[0]["details"] == {"reason": "invalid_password"}
