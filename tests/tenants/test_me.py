"""A user's own account: profile, password, sessions, logout."""

import uuid

import httpx
import pytest

from tenantry.core.tenancy.context import Tenant
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import Account, Login, UserFactory, login, token_request


@pytest.fixture
async def account(tenant: Tenant, make_user: UserFactory) -> Account:
    return await make_user(tenant, display_name="Ada")


@pytest.fixture
async def session(client: httpx.AsyncClient, account: Account) -> Login:
    return await login(client, account)


async def test_read_me(client: httpx.AsyncClient, session: Login) -> None:
    response = await client.get("/api/v1/users/me", headers=session.headers)
    assert response.status_code == 200
    body = response.json()
    assert body["id"] == str(session.account.user_id)
    assert body["email"] == session.account.email
    assert body["display_name"] == "Ada"
    assert body["last_login_at"] is not None
    assert "password_hash" not in body
    assert "failed_login_count" not in body


async def test_me_needs_a_token(client: httpx.AsyncClient, account: Account) -> None:
    response = await client.get("/api/v1/users/me", headers=account.headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_update_profile(client: httpx.AsyncClient, session: Login) -> None:
    change = {
        "display_name": "Ada L.",
        "locale": "en-GB",
        "time_zone": "Europe/London",
        "avatar_url": "https://cdn.example.com/ada.png",
        "attributes": {"department": "R&D", "level": 3},
    }
    response = await client.patch("/api/v1/users/me", json=change, headers=session.headers)
    assert response.status_code == 200
    again = (await client.get("/api/v1/users/me", headers=session.headers)).json()
    for field, value in change.items():
        assert again[field] == value
    cleared = await client.patch("/api/v1/users/me", json={"bio": None}, headers=session.headers)
    assert cleared.json()["display_name"] == "Ada L."  # omitted fields stay


@pytest.mark.parametrize(
    "change",
    [
        {"time_zone": "Mars/Olympus"},
        {"locale": "not a locale"},
        {"avatar_url": "javascript:alert(1)"},
        {"attributes": {"blob": "x" * 20_000}},
        {"attributes": {f"k{i}": i for i in range(65)}},
        {"email": "new@example.com"},
        {"status": "active"},
        {"display_name": "x" * 201},
    ],
)
async def test_invalid_profile_changes_are_422(
    client: httpx.AsyncClient, session: Login, change: dict[str, object]
) -> None:
    response = await client.patch("/api/v1/users/me", json=change, headers=session.headers)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"


async def test_password_change_ends_other_sessions(
    client: httpx.AsyncClient, account: Account
) -> None:
    current, other = await login(client, account), await login(client, account)
    response = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": account.password, "new_password": "a brand new passphrase"},
        headers=current.headers,
    )
    assert response.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=current.headers)).status_code == 200
    assert (await client.get("/api/v1/users/me", headers=other.headers)).status_code == 401
    stale = await token_request(
        client, account.tenant, grant_type="refresh_token", refresh_token=other.refresh_token
    )
    assert stale.json()["error"] == "invalid_grant"
    account.password = "a brand new passphrase"
    await login(client, account)


async def test_password_change_rules(client: httpx.AsyncClient, session: Login) -> None:
    wrong = await client.post(
        "/api/v1/users/me/password",
        json={"current_password": "not it", "new_password": "a brand new passphrase"},
        headers=session.headers,
    )
    assert wrong.status_code == 400
    assert wrong.json()["error"] == "invalid_current_password"
    for weak in ("short", "password123", "x" * 129):
        response = await client.post(
            "/api/v1/users/me/password",
            json={"current_password": session.account.password, "new_password": weak},
            headers=session.headers,
        )
        assert response.status_code == 422, weak
        assert response.json()["fields"][0]["loc"] == ["body", "password"]
    await login(client, session.account)  # the old password still works


async def test_sessions_list_and_end(client: httpx.AsyncClient, account: Account) -> None:
    first, second = await login(client, account), await login(client, account)
    listed = (await client.get("/api/v1/users/me/sessions", headers=first.headers)).json()
    assert len(listed) == 2
    assert sum(item["current"] for item in listed) == 1
    other_id = next(item["id"] for item in listed if not item["current"])
    response = await client.delete(f"/api/v1/users/me/sessions/{other_id}", headers=first.headers)
    assert response.status_code == 204
    assert (await client.get("/api/v1/users/me", headers=second.headers)).status_code == 401
    again = await client.delete(f"/api/v1/users/me/sessions/{other_id}", headers=first.headers)
    assert again.status_code == 404
    unknown = await client.delete(
        f"/api/v1/users/me/sessions/{uuid.uuid4()}", headers=first.headers
    )
    assert unknown.json()["error"] == "session_not_found"


async def test_cannot_end_another_users_session(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory
) -> None:
    mine = await login(client, await make_user(tenant))
    theirs = await login(client, await make_user(tenant))
    their_sessions = (await client.get("/api/v1/users/me/sessions", headers=theirs.headers)).json()
    response = await client.delete(
        f"/api/v1/users/me/sessions/{their_sessions[0]['id']}", headers=mine.headers
    )
    assert response.status_code == 404
    assert (await client.get("/api/v1/users/me", headers=theirs.headers)).status_code == 200


async def test_logout_and_logout_everywhere(client: httpx.AsyncClient, account: Account) -> None:
    first, second, third = [await login(client, account) for _ in range(3)]
    assert (await client.post("/api/v1/auth/logout", headers=first.headers)).status_code == 204
    assert (await client.get("/api/v1/users/me", headers=first.headers)).status_code == 401
    assert (await client.get("/api/v1/users/me", headers=second.headers)).status_code == 200
    everywhere = await client.post("/api/v1/auth/logout-all", headers=second.headers)
    assert everywhere.status_code == 204
    for gone in (second, third):
        assert (await client.get("/api/v1/users/me", headers=gone.headers)).status_code == 401


async def test_other_tenants_sessions_are_out_of_reach(
    client: httpx.AsyncClient, make_tenant: TenantFactory, make_user: UserFactory
) -> None:
    tenant_a, tenant_b = await make_tenant(), await make_tenant()
    alice = await login(client, await make_user(tenant_a))
    bob = await login(client, await make_user(tenant_b))
    bob_session = (await client.get("/api/v1/users/me/sessions", headers=bob.headers)).json()[0]
    # Alice's token on tenant B's host: refused outright.
    crossed = {**alice.headers, "X-Tenant": tenant_b.slug}
    for method, path in [
        ("GET", "/api/v1/users/me"),
        ("PATCH", "/api/v1/users/me"),
        ("GET", "/api/v1/users/me/sessions"),
        ("DELETE", f"/api/v1/users/me/sessions/{bob_session['id']}"),
        ("POST", "/api/v1/users/me/password"),
        ("POST", "/api/v1/auth/logout"),
        ("POST", "/api/v1/auth/logout-all"),
        ("POST", "/api/v1/auth/verify-email/resend"),
    ]:
        response = await client.request(method, path, headers=crossed, json={})
        assert response.status_code == 401, (method, path)
    # Bob's session id through Alice's own tenant: not found, and Bob is untouched.
    response = await client.delete(
        f"/api/v1/users/me/sessions/{bob_session['id']}", headers=alice.headers
    )
    assert response.status_code == 404
    assert (await client.get("/api/v1/users/me", headers=bob.headers)).status_code == 200


async def test_access_log_names_the_full_route_template(
    client: httpx.AsyncClient, account: Account, capfd: pytest.CaptureFixture[str]
) -> None:
    capfd.readouterr()
    await client.get(f"/api/v1/users/me/sessions/{uuid.uuid4()}", headers=account.headers)
    await client.delete(f"/api/v1/users/me/sessions/{uuid.uuid4()}", headers=account.headers)
    logs = capfd.readouterr().out
    assert '"route": "/api/v1/users/me/sessions/{session_id}"' in logs
    assert str(account.tenant.slug) in logs
