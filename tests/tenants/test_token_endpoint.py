"""The OAuth 2.0 token endpoint: RFC 6749 answers, rotation, reuse detection, tenant binding."""

import asyncio
import base64
import json

import httpx
import jwt
import pytest

from tenantry.core.runtime import Runtime
from tenantry.core.tenancy.context import Tenant
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import Account, UserFactory, login, token_request


@pytest.fixture
async def account(tenant: Tenant, make_user: UserFactory) -> Account:
    return await make_user(tenant)


async def test_password_grant_issues_tokens(
    client: httpx.AsyncClient, account: Account, runtime: Runtime
) -> None:
    response = await token_request(
        client, account.tenant, grant_type="password", username=account.email,
        password=account.password,
    )  # fmt: skip
    assert response.status_code == 200
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["scope"] == "openid profile email"
    assert len(body["refresh_token"]) >= 43  # 256 bits, base64url
    header = jwt.get_unverified_header(body["access_token"])
    assert header["kid"] == runtime.keys.signing.kid
    assert header["alg"] == "RS256"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert claims["sub"] == str(account.user_id)
    assert claims["tid"] == str(account.tenant.id)
    assert claims["aud"] == "tenantry"
    assert claims["iss"] == f"http://{account.tenant.slug}.localhost:8000"
    assert claims["exp"] - claims["iat"] == 600
    assert {"sid", "jti"} <= claims.keys()


async def test_email_is_matched_without_case(client: httpx.AsyncClient, account: Account) -> None:
    response = await token_request(
        client, account.tenant, grant_type="password", username=account.email.upper(),
        password=account.password,
    )  # fmt: skip
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({}, 400, "invalid_request"),
        ({"grant_type": "password", "password": "x"}, 400, "invalid_request"),
        ({"grant_type": "password", "username": "a@b.c"}, 400, "invalid_request"),
        ({"grant_type": "refresh_token"}, 400, "invalid_request"),
        ({"grant_type": "authorization_code", "code": "x"}, 400, "unsupported_grant_type"),
        ({"grant_type": "refresh_token", "refresh_token": "nope"}, 400, "invalid_grant"),
        ({"grant_type": "password", "username": "a@b.c", "password": "x", "scope": "admin"},
         400, "invalid_scope"),
    ],
)  # fmt: skip
async def test_rfc6749_errors(
    client: httpx.AsyncClient, tenant: Tenant, form: dict[str, str], status: int, error: str
) -> None:
    response = await token_request(client, tenant, **form)
    assert response.status_code == status
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]
    assert response.headers["cache-control"] == "no-store"


async def test_wrong_password_and_unknown_user_answer_alike(
    client: httpx.AsyncClient, account: Account
) -> None:
    wrong = await token_request(
        client, account.tenant, grant_type="password", username=account.email, password="nope-nope"
    )
    unknown = await token_request(
        client, account.tenant, grant_type="password", username="ghost@example.com",
        password="nope-nope",
    )  # fmt: skip
    assert wrong.status_code == unknown.status_code == 400
    assert wrong.json() == unknown.json()
    assert wrong.json()["error"] == "invalid_grant"


async def test_json_body_is_an_invalid_request(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.post(
        "/api/v1/oauth/token",
        json={"grant_type": "password", "username": account.email, "password": account.password},
        headers=account.headers,
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_refresh_rotates_and_replay_revokes_the_family(
    client: httpx.AsyncClient, account: Account
) -> None:
    first = await login(client, account)
    rotated = await token_request(
        client, account.tenant, grant_type="refresh_token", refresh_token=first.refresh_token
    )
    assert rotated.status_code == 200
    second = rotated.json()
    assert second["refresh_token"] != first.refresh_token
    me = await client.get(
        "/api/v1/users/me",
        headers={**account.headers, "Authorization": f"Bearer {second['access_token']}"},
    )
    assert me.status_code == 200

    replay = await token_request(
        client, account.tenant, grant_type="refresh_token", refresh_token=first.refresh_token
    )
    assert replay.status_code == 400
    assert replay.json()["error"] == "invalid_grant"
    # The replay ended the session: the newest refresh token and access token die with it.
    after = await token_request(
        client, account.tenant, grant_type="refresh_token", refresh_token=second["refresh_token"]
    )
    assert after.json()["error"] == "invalid_grant"
    me = await client.get(
        "/api/v1/users/me",
        headers={**account.headers, "Authorization": f"Bearer {second['access_token']}"},
    )
    assert me.status_code == 401


async def test_concurrent_refresh_with_one_token_has_one_winner_and_revokes(
    client: httpx.AsyncClient, account: Account
) -> None:
    first = await login(client, account)
    responses = await asyncio.gather(
        *(
            token_request(
                client,
                account.tenant,
                grant_type="refresh_token",
                refresh_token=first.refresh_token,
            )
            for _ in range(2)
        )
    )
    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200, 400]
    winner = next(response for response in responses if response.status_code == 200).json()
    after = await token_request(
        client, account.tenant, grant_type="refresh_token", refresh_token=winner["refresh_token"]
    )
    assert after.json()["error"] == "invalid_grant"


async def test_tokens_of_one_tenant_are_worthless_in_another(
    client: httpx.AsyncClient, account: Account, make_tenant: TenantFactory, make_user: UserFactory
) -> None:
    other = await make_tenant()
    await make_user(other, email=account.email, password=account.password)
    session = await login(client, account)
    me = await client.get(
        "/api/v1/users/me",
        headers={"X-Tenant": other.slug, "Authorization": f"Bearer {session.access_token}"},
    )
    assert me.status_code == 401
    assert me.json()["error"] == "invalid_token"
    refresh = await token_request(
        client, other, grant_type="refresh_token", refresh_token=session.refresh_token
    )
    assert refresh.json()["error"] == "invalid_grant"
    revoke = await client.post(
        "/api/v1/oauth/revoke",
        data={"token": session.refresh_token},
        headers={"X-Tenant": other.slug},
    )
    assert revoke.status_code == 200
    # Revoking through another tenant did nothing to the real session.
    still = await token_request(
        client, account.tenant, grant_type="refresh_token", refresh_token=session.refresh_token
    )
    assert still.status_code == 200


async def test_revocation_of_refresh_and_access_tokens(
    client: httpx.AsyncClient, account: Account
) -> None:
    by_refresh = await login(client, account)
    response = await client.post(
        "/api/v1/oauth/revoke", data={"token": by_refresh.refresh_token}, headers=account.headers
    )
    assert response.status_code == 200
    assert (await client.get("/api/v1/users/me", headers=by_refresh.headers)).status_code == 401

    by_access = await login(client, account)
    await client.post(
        "/api/v1/oauth/revoke", data={"token": by_access.access_token}, headers=account.headers
    )
    refreshed = await token_request(
        client, account.tenant, grant_type="refresh_token", refresh_token=by_access.refresh_token
    )
    assert refreshed.json()["error"] == "invalid_grant"

    unknown = await client.post(
        "/api/v1/oauth/revoke", data={"token": "never-issued"}, headers=account.headers
    )
    assert unknown.status_code == 200
    missing = await client.post("/api/v1/oauth/revoke", data={}, headers=account.headers)
    assert missing.json()["error"] == "invalid_request"


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


async def test_tampered_and_unsigned_tokens_are_refused_over_http(
    client: httpx.AsyncClient, account: Account
) -> None:
    session = await login(client, account)
    header, payload, signature = session.access_token.split(".")
    claims = jwt.decode(session.access_token, options={"verify_signature": False})
    forged = [
        f"{_b64({'alg': 'none', 'typ': 'at+jwt'})}.{payload}.",
        f"{header}.{_b64({**claims, 'sub': '00000000-0000-0000-0000-000000000000'})}.{signature}",
        f"{header}.{payload}.",
        "not-a-jwt",
    ]
    for token in forged:
        response = await client.get(
            "/api/v1/users/me", headers={**account.headers, "Authorization": f"Bearer {token}"}
        )
        assert response.status_code == 401, token
        assert response.json()["error"] == "invalid_token"
        assert response.headers["www-authenticate"].startswith("Bearer")
