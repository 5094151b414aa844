"""Every error leaves in one documented shape, with a stable code."""

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tenantry.core.tenancy.context import Tenant
from tests.fixtures.app import client_for
from tests.fixtures.probe import install_probe


@pytest.fixture
async def probe(app: FastAPI) -> httpx.AsyncClient:
    return client_for(install_probe(app))


async def test_validation_error_shape(probe: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await probe.get("/api/v1/_probe/users/not-a-uuid", headers={"X-Tenant": tenant.slug})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation_error"
    assert body["fields"][0]["loc"] == ["path", "user_id"]
    assert "not-a-uuid" not in response.text  # input is never echoed back


async def test_domain_not_found_shape(probe: httpx.AsyncClient, tenant: Tenant) -> None:
    response = await probe.get(
        f"/api/v1/_probe/users/{uuid.uuid4()}", headers={"X-Tenant": tenant.slug}
    )
    assert response.status_code == 404
    assert response.json() == {"error": "not_found", "detail": "The resource does not exist."}


async def test_unknown_route_and_method_shapes(probe: httpx.AsyncClient) -> None:
    missing = await probe.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    wrong = await probe.post("/healthz")
    assert wrong.status_code == 405
    assert wrong.json()["error"] == "method_not_allowed"


async def test_request_id_is_returned_and_kept(probe: httpx.AsyncClient) -> None:
    given = await probe.get("/healthz", headers={"X-Request-ID": "abc-123"})
    assert given.headers["X-Request-ID"] == "abc-123"
    generated = await probe.get("/healthz", headers={"X-Request-ID": "bad id\nwith newline"})
    assert generated.headers["X-Request-ID"] != "bad id\nwith newline"
    assert len(generated.headers["X-Request-ID"]) == 32
