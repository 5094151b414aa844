"""What schemathesis found (tests/hardening/test_fuzz_openapi.py), each kept as a plain test."""

import asyncio
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from tenantry.core.notify import PgListener, asyncpg_dsn
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.router import tenant_routers
from tests.fixtures.identity import Login, RoleUserFactory, UserFactory, login


@pytest.fixture
async def me(client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory) -> Login:
    return await login(client, await make_user(tenant))


@pytest.fixture
async def owner(client: httpx.AsyncClient, tenant: Tenant, make_admin: RoleUserFactory) -> Login:
    return await login(client, await make_admin(tenant, "owner"))


# PostgreSQL refuses U+0000 in text and in jsonb; the statement failed and the request was a 500.
@pytest.mark.parametrize(
    "change", [{"bio": "\u0000"}, {"display_name": "a\u0000b"}, {"attributes": {"\u0000": 1}}]
)
async def test_nul_in_a_profile_is_a_422(
    client: httpx.AsyncClient, me: Login, change: dict[str, object]
) -> None:
    response = await client.patch("/api/v1/users/me", json=change, headers=me.headers)
    assert response.status_code == 422
    assert response.json()["error"] == "validation_error"
    assert (await client.get("/api/v1/users/me", headers=me.headers)).status_code == 200


async def test_nul_in_a_filter_or_a_public_form_is_a_422(
    client: httpx.AsyncClient, owner: Login
) -> None:
    search = await client.get("/api/v1/users", params={"q": "a\u0000"}, headers=owner.headers)
    assert search.status_code == 422
    reset = await client.post(
        "/api/v1/auth/password-reset",
        json={"email": "a\u0000@example.com"},
        headers=owner.account.headers,
    )
    assert reset.status_code == 422, reset.text


# `{"attributes": null}` ("null clears") stored JSON null; every later read of the user was a 500.
async def test_clearing_attributes_leaves_an_empty_object(
    client: httpx.AsyncClient, me: Login
) -> None:
    await client.patch("/api/v1/users/me", json={"attributes": {"a": 1}}, headers=me.headers)
    cleared = await client.patch("/api/v1/users/me", json={"attributes": None}, headers=me.headers)
    assert cleared.status_code == 200
    assert cleared.json()["attributes"] == {}
    again = await client.get("/api/v1/users/me", headers=me.headers)
    assert again.status_code == 200
    assert again.json()["attributes"] == {}


async def test_admin_clearing_attributes_leaves_an_empty_object(
    client: httpx.AsyncClient, owner: Login, make_user: UserFactory
) -> None:
    user = await make_user(owner.account.tenant)
    path = f"/api/v1/users/{user.user_id}"
    cleared = await client.patch(path, json={"attributes": None}, headers=owner.headers)
    assert cleared.status_code == 200
    assert (await client.get(path, headers=owner.headers)).json()["attributes"] == {}


def _responses(app: FastAPI, method: str, path: str) -> dict[str, Any]:
    operation = app.openapi()["paths"][path][method.lower()]
    responses: dict[str, Any] = operation["responses"]
    return responses


# Undocumented answers: 404 for unknown ids, 401, 400 tenant errors, 503, and a 422 documented
# as FastAPI's `HTTPValidationError` while the app renders `{"error", "detail", "fields"}`.
def test_error_answers_are_documented_in_the_shape_the_app_renders(app: FastAPI) -> None:
    document = app.openapi()
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error_ref = "#/components/schemas/ErrorBody"
    tenant_plane = {
        (method.lower(), route.path)
        for router in tenant_routers()
        for route in router.routes
        if isinstance(route, APIRoute)
        for method in route.methods or ()
    }
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if (method, path) not in tenant_plane:
                continue
            tenant_plane.discard((method, path))
            responses = operation["responses"]
            for status in ("4XX", "404", "503"):
                schema = responses[status]["content"]["application/json"]["schema"]
                assert schema == {"$ref": error_ref}, (method, path, status)
            if operation.get("security"):
                assert "401" in responses, (method, path)
    assert tenant_plane == set(), "tenant routes missing from the document"


# RFC 7009 revocation answers 200 with no body; the document promised JSON.
def test_revocation_is_documented_without_a_body(app: FastAPI) -> None:
    assert "content" not in _responses(app, "POST", "/api/v1/oauth/revoke")["200"]


# The app's lifespan stopped and started again (schemathesis does so after every test) leaked the
# LISTEN connection: stop() cancelled the listener inside `_connect`, after the connection was
# open and before anything could close it; and `connected` stayed set, so the restart did not wait.
async def test_listener_stopped_while_connecting_closes_its_connection(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[asyncpg.Connection] = []
    hold = asyncio.Event()

    async def stuck_add_listener(self: asyncpg.Connection, *_: object) -> None:
        opened.append(self)
        await hold.wait()

    monkeypatch.setattr(asyncpg.Connection, "add_listener", stuck_add_listener)
    listener = PgListener(asyncpg_dsn(database_url))
    listener.subscribe("tenantry_regression", lambda _: None)
    await listener.start(wait=0.5)
    assert opened, "the listener never reached add_listener"
    await listener.stop()
    assert opened[0].is_closed()


async def test_listener_is_not_connected_after_stop(database_url: str) -> None:
    listener = PgListener(asyncpg_dsn(database_url))
    await listener.start()
    assert listener.connected.is_set()
    await listener.stop()
    assert not listener.connected.is_set()
