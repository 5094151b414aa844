"""Sign-up, email verification and password reset, with real mail through a local SMTP sink."""

import uuid

import httpx
import pytest

from tenantry.core.tenancy.context import Tenant
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import Account, UserFactory, login, token_from, token_request
from tests.fixtures.smtp import SmtpSink

PASSWORD = "a long enough passphrase"


@pytest.fixture
async def open_tenant(make_tenant: TenantFactory) -> Tenant:
    return await make_tenant(settings={"signup": "open"})


def new_email() -> str:
    return f"new-{uuid.uuid4().hex[:8]}@example.com"


async def register(
    client: httpx.AsyncClient, tenant: Tenant, email: str, password: str = PASSWORD
) -> httpx.Response:
    return await client.post(
        "/api/v1/auth/register",
        json={"email": email, "password": password, "display_name": "New"},
        headers={"X-Tenant": tenant.slug},
    )


async def test_register_verify_and_log_in(
    client: httpx.AsyncClient, open_tenant: Tenant, smtp_sink: SmtpSink
) -> None:
    email = new_email()
    response = await register(client, open_tenant, email)
    assert response.status_code == 202
    message = await smtp_sink.wait_for(email)
    assert "Confirm" in message["Subject"]
    token = token_from(message)

    session = await login(client, Account(open_tenant, uuid.uuid4(), email, PASSWORD))
    me = (await client.get("/api/v1/users/me", headers=session.headers)).json()
    assert me["email_verified"] is False

    verified = await client.post(
        "/api/v1/auth/verify-email", json={"token": token}, headers={"X-Tenant": open_tenant.slug}
    )
    assert verified.status_code == 200
    me = (await client.get("/api/v1/users/me", headers=session.headers)).json()
    assert me["email_verified"] is True

    reused = await client.post(
        "/api/v1/auth/verify-email", json={"token": token}, headers={"X-Tenant": open_tenant.slug}
    )
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_token"


async def test_register_existing_address_answers_the_same(
    client: httpx.AsyncClient, open_tenant: Tenant, make_user: UserFactory, smtp_sink: SmtpSink
) -> None:
    existing = await make_user(open_tenant)
    fresh = await register(client, open_tenant, new_email())
    again = await register(client, open_tenant, existing.email.upper())
    assert again.status_code == fresh.status_code == 202
    assert again.json() == fresh.json()
    notice = await smtp_sink.wait_for(existing.email)
    assert "already has one" in notice.get_body(preferencelist=("plain",)).get_content()  # type: ignore[union-attr]
    await login(client, existing)  # the original password still works


@pytest.mark.parametrize(
    ("policy", "code"),
    [
        ({"signup": "closed"}, "signup_closed"),
        ({"signup": "invite_only"}, "signup_invite_only"),
        (
            {"signup": "open", "signup_allowed_domains": ["corp.example"]},
            "email_domain_not_allowed",
        ),
    ],
)
async def test_signup_policy(
    client: httpx.AsyncClient, make_tenant: TenantFactory, policy: dict[str, object], code: str
) -> None:
    tenant = await make_tenant(settings=policy)
    response = await register(client, tenant, new_email())
    assert response.status_code == 403
    assert response.json()["error"] == code


async def test_allowed_domain_may_sign_up(
    client: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant(
        settings={"signup": "open", "signup_allowed_domains": ["corp.example"]}
    )
    response = await register(client, tenant, f"{uuid.uuid4().hex[:6]}@CORP.example")
    assert response.status_code == 202


async def test_weak_password_at_signup_is_422(
    client: httpx.AsyncClient, open_tenant: Tenant
) -> None:
    email = new_email()
    response = await register(client, open_tenant, email, password=f"{email.split('@')[0]}-123")
    assert response.status_code == 422
    assert response.json()["fields"][0]["type"] == "contains_context"


async def test_password_reset_flow(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, smtp_sink: SmtpSink
) -> None:
    account = await make_user(tenant, email_verified=False)
    old_session = await login(client, account)
    headers = {"X-Tenant": tenant.slug}
    response = await client.post(
        "/api/v1/auth/password-reset", json={"email": account.email}, headers=headers
    )
    assert response.status_code == 202
    token = token_from(await smtp_sink.wait_for(account.email))

    weak = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "password"},
        headers=headers,
    )
    assert weak.status_code == 422  # and the link still works: nothing was committed

    done = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "a fresh and long secret"},
        headers=headers,
    )
    assert done.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=old_session.headers)).status_code == 401
    stale = await token_request(
        client, tenant, grant_type="refresh_token", refresh_token=old_session.refresh_token
    )
    assert stale.json()["error"] == "invalid_grant"
    account.password = "a fresh and long secret"
    session = await login(client, account)
    me = (await client.get("/api/v1/users/me", headers=session.headers)).json()
    assert me["email_verified"] is True

    reused = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "yet another long secret"},
        headers=headers,
    )
    assert reused.json()["error"] == "invalid_token"


async def test_reset_answers_the_same_for_unknown_addresses(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, smtp_sink: SmtpSink
) -> None:
    account = await make_user(tenant)
    headers = {"X-Tenant": tenant.slug}
    known = await client.post(
        "/api/v1/auth/password-reset", json={"email": account.email}, headers=headers
    )
    ghost_email = new_email()
    unknown = await client.post(
        "/api/v1/auth/password-reset", json={"email": ghost_email}, headers=headers
    )
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    await smtp_sink.wait_for(account.email)
    assert all(ghost_email not in str(message["To"]) for message in smtp_sink.messages)


async def test_only_the_latest_reset_link_works(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, smtp_sink: SmtpSink
) -> None:
    account = await make_user(tenant)
    headers = {"X-Tenant": tenant.slug}
    tokens = []
    for _ in range(2):
        await client.post(
            "/api/v1/auth/password-reset", json={"email": account.email}, headers=headers
        )
        tokens.append(token_from(await smtp_sink.wait_for(account.email)))
    old = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": tokens[0], "new_password": "a fresh and long secret"},
        headers=headers,
    )
    assert old.json()["error"] == "invalid_token"


async def test_reset_token_of_one_tenant_fails_in_another(
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    make_user: UserFactory,
    smtp_sink: SmtpSink,
) -> None:
    tenant_a, tenant_b = await make_tenant(), await make_tenant()
    account = await make_user(tenant_a)
    await make_user(tenant_b, email=account.email)
    await client.post(
        "/api/v1/auth/password-reset",
        json={"email": account.email},
        headers={"X-Tenant": tenant_a.slug},
    )
    token = token_from(await smtp_sink.wait_for(account.email))
    crossed = await client.post(
        "/api/v1/auth/password-reset/confirm",
        json={"token": token, "new_password": "a fresh and long secret"},
        headers={"X-Tenant": tenant_b.slug},
    )
    assert crossed.json()["error"] == "invalid_token"


async def test_resend_verification(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory, smtp_sink: SmtpSink
) -> None:
    account = await make_user(tenant, email_verified=False)
    session = await login(client, account)
    response = await client.post("/api/v1/auth/verify-email/resend", headers=session.headers)
    assert response.status_code == 202
    token = token_from(await smtp_sink.wait_for(account.email))
    verified = await client.post(
        "/api/v1/auth/verify-email", json={"token": token}, headers={"X-Tenant": tenant.slug}
    )
    assert verified.status_code == 200


async def test_mail_outage_loses_no_change(
    client: httpx.AsyncClient, open_tenant: Tenant, make_user: UserFactory, runtime: object
) -> None:
    """The account exists even when the confirmation could not be sent; asking again works."""
    from tenantry.core.email import SmtpMailer
    from tenantry.core.runtime import Runtime

    assert isinstance(runtime, Runtime)
    working = runtime.mailer
    broken = runtime.settings.model_copy(update={"smtp_port": 1})
    runtime.mailer = SmtpMailer.from_settings(broken)
    try:
        email = new_email()
        assert (await register(client, open_tenant, email)).status_code == 202
    finally:
        runtime.mailer = working
    await login(client, Account(open_tenant, uuid.uuid4(), email, PASSWORD))
