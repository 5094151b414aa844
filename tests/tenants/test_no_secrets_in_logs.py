"""Passwords and tokens sent to every auth route never reach the logs or error bodies."""

import httpx
import pytest

from tenantry.core.tenancy.context import Tenant
from tests.fixtures.identity import UserFactory, login, token_from
from tests.fixtures.smtp import SmtpSink

SECRET_PASSWORD = "Sup3r-Secret-Pa55phrase-xyz"


async def test_secrets_stay_out_of_logs(
    client: httpx.AsyncClient,
    make_tenant: object,
    make_user: UserFactory,
    smtp_sink: SmtpSink,
    capfd: pytest.CaptureFixture[str],
) -> None:
    tenant: Tenant = await make_tenant(settings={"signup": "open"})  # type: ignore[operator]
    account = await make_user(tenant, password=SECRET_PASSWORD)
    h = {"X-Tenant": tenant.slug}
    secrets: list[str] = [SECRET_PASSWORD, "Wr0ng-Secret-Guess-abc", "N3w-Secret-Passphrase-qrs"]
    bodies: list[str] = []
    capfd.readouterr()
    try:
        session = await login(client, account)
        secrets += [session.access_token, session.refresh_token]
        auth = {**session.headers, "X-Request-ID": "secret-test"}
        calls = [
            (
                "POST",
                "/api/v1/oauth/token",
                {
                    "data": {
                        "grant_type": "password",
                        "username": account.email,
                        "password": secrets[1],
                    }
                },
            ),
            (
                "POST",
                "/api/v1/oauth/token",
                {"data": {"grant_type": "refresh_token", "refresh_token": session.refresh_token}},
            ),
            (
                "POST",
                "/api/v1/oauth/token",
                {"data": {"grant_type": "refresh_token", "refresh_token": session.refresh_token}},
            ),
            (
                "POST",
                "/api/v1/auth/register",
                {"json": {"email": "x@example.com", "password": secrets[2]}},
            ),
            ("POST", "/api/v1/auth/register", {"json": {"email": "bad", "password": secrets[2]}}),
            ("POST", "/api/v1/auth/password-reset", {"json": {"email": account.email}}),
            (
                "POST",
                "/api/v1/users/me/password",
                {"json": {"current_password": secrets[1], "new_password": secrets[2]}},
            ),
            (
                "GET",
                "/api/v1/users/me",
                {"headers": {**h, "Authorization": "Bearer " + session.access_token + "x"}},
            ),
            ("POST", "/api/v1/oauth/revoke", {"data": {"token": session.refresh_token}}),
        ]
        for method, path, kwargs in calls:
            kwargs.setdefault("headers", auth)  # type: ignore[arg-type]
            response = await client.request(method, path, **kwargs)  # type: ignore[arg-type]
            bodies.append(response.text)
        reset_token = token_from(await smtp_sink.wait_for(account.email))
        secrets.append(reset_token)
        response = await client.post(
            "/api/v1/auth/password-reset/confirm",
            json={"token": reset_token, "new_password": "short"},
            headers=h,
        )
        bodies.append(response.text)
    finally:
        logs = capfd.readouterr().out
    assert logs.count("http.request") >= len(bodies)  # the access events really were captured
    assert "auth.refresh_reuse_detected" in logs
    everything = logs + "\n".join(bodies)
    for secret in secrets:
        assert secret not in everything
