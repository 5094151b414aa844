"""Tenant resolution and schema binding: every request sees its own tenant and nothing else."""

import asyncio
import random
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import text

from tenantry.core.database import Database, create_engine
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant, TenantStatus
from tenantry.tenants.users.models import User
from tests.fixtures.app import (
    TenantFactory,
    add_tenant_domain,
    client_for,
    running_app,
    set_tenant_status,
)
from tests.fixtures.probe import install_probe


@pytest.fixture
async def probe(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(install_probe(app)) as http:
        yield http


async def add_user(database: Database, tenant: Tenant, user_id: uuid.UUID, email: str) -> None:
    async with database.tenant_transaction(tenant.schema) as session:
        session.add(User(id=user_id, email=email))


async def test_same_primary_key_in_ten_tenants_never_crosses(
    probe: httpx.AsyncClient, make_tenant: TenantFactory, database: Database
) -> None:
    shared_id = uuid.uuid4()
    tenants = [await make_tenant() for _ in range(10)]
    for tenant in tenants:
        await add_user(database, tenant, shared_id, f"user@{tenant.slug}.example")

    picks = [random.choice(tenants) for _ in range(200)]

    async def read(tenant: Tenant) -> tuple[Tenant, httpx.Response]:
        response = await probe.get(
            f"/api/v1/_probe/users/{shared_id}", headers={"X-Tenant": tenant.slug}
        )
        return tenant, response

    results = await asyncio.gather(*(read(tenant) for tenant in picks))
    assert len({tenant.slug for tenant, _ in results}) == 10
    for tenant, response in results:
        assert response.status_code == 200
        assert response.json() == {
            "id": str(shared_id),
            "email": f"user@{tenant.slug}.example",
            "tenant": tenant.slug,
        }


async def test_pooled_connection_carries_no_schema_between_tenants(
    settings: Settings, make_tenant: TenantFactory
) -> None:
    single = settings.model_copy(update={"database_pool_size": 1, "database_max_overflow": 0})
    database = Database(create_engine(single))
    try:
        first, second = await make_tenant(), await make_tenant()
        shared_id = uuid.uuid4()
        await add_user(database, first, shared_id, "a@first.example")
        await add_user(database, second, shared_id, "b@second.example")
        async with database.tenant_session(first.schema) as session:
            pid_first = await session.scalar(text("SELECT pg_backend_pid()"))
            assert (await session.get(User, shared_id)).email == "a@first.example"  # type: ignore[union-attr]
        async with database.tenant_session(second.schema) as session:
            pid_second = await session.scalar(text("SELECT pg_backend_pid()"))
            assert (await session.get(User, shared_id)).email == "b@second.example"  # type: ignore[union-attr]
        assert pid_first == pid_second, "the test needs both sessions on one pooled connection"
        async with database.engine.connect() as connection:
            assert await connection.scalar(text("SHOW search_path")) == '"$user", public'
            # An unqualified name finds no tenant table: nothing points the connection at a schema.
            assert await connection.scalar(text("SELECT to_regclass('users')")) is None
    finally:
        await database.dispose()


async def test_request_transaction_has_its_tenant_schema_alone_on_the_search_path(
    probe: httpx.AsyncClient, tenant: Tenant
) -> None:
    # Bound with SET LOCAL by the transaction's BEGIN (tenantry.core.pgconnection); the test above
    # shows that it is gone once the transaction ends.
    response = await probe.get("/api/v1/_probe/search-path", headers={"X-Tenant": tenant.slug})
    assert response.json() == {"search_path": tenant.schema}


async def test_host_subdomain_selects_the_tenant(
    probe: httpx.AsyncClient, tenant: Tenant, database: Database
) -> None:
    user_id = uuid.uuid4()
    await add_user(database, tenant, user_id, "host@example.com")
    response = await probe.get(
        f"/api/v1/_probe/users/{user_id}", headers={"Host": f"{tenant.slug}.localhost:8000"}
    )
    assert response.status_code == 200
    assert response.json()["tenant"] == tenant.slug


async def test_custom_domain_selects_the_tenant(
    probe: httpx.AsyncClient, tenant: Tenant, database: Database
) -> None:
    hostname = f"login.{tenant.slug}.example.org"
    await add_tenant_domain(database, tenant, hostname)
    user_id = uuid.uuid4()
    await add_user(database, tenant, user_id, "custom@example.com")
    response = await probe.get(f"/api/v1/_probe/users/{user_id}", headers={"Host": hostname})
    assert response.status_code == 200
    assert response.json()["tenant"] == tenant.slug


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Tenant": "no-such-tenant"},
        {"Host": "no-such-tenant.localhost"},
        {"X-Tenant": "x'; DROP SCHEMA platform CASCADE; --"},
        {"X-Tenant": "ünïcode-tenant".encode()},  # type: ignore[dict-item]
        {"X-Tenant": "a" * 500},
        {"Host": "deeper.sub.localhost"},
    ],
)
async def test_unknown_tenant_is_404(
    probe: httpx.AsyncClient, headers: dict[str, str | bytes]
) -> None:
    response = await probe.get(f"/api/v1/_probe/users/{uuid.uuid4()}", headers=headers)
    assert response.status_code == 404
    assert response.json()["error"] == "tenant_not_found"


async def test_missing_tenant_on_a_tenant_route_is_400(probe: httpx.AsyncClient) -> None:
    response = await probe.get(f"/api/v1/_probe/users/{uuid.uuid4()}")
    assert response.status_code == 400
    assert response.json()["error"] == "tenant_required"


async def test_header_cannot_move_a_request_out_of_its_host_tenant(
    probe: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    host_tenant, other = await make_tenant(), await make_tenant()
    response = await probe.get(
        f"/api/v1/_probe/users/{uuid.uuid4()}",
        headers={"Host": f"{host_tenant.slug}.localhost", "X-Tenant": other.slug},
    )
    assert response.status_code == 400
    assert response.json()["error"] == "tenant_mismatch"


@pytest.mark.parametrize(
    ("status", "http_status", "code"),
    [
        (TenantStatus.SUSPENDED, 403, "tenant_suspended"),
        (TenantStatus.DELETING, 410, "tenant_deleted"),
    ],
)
async def test_tenant_not_serving_fails_closed(
    probe: httpx.AsyncClient,
    tenant: Tenant,
    database: Database,
    status: TenantStatus,
    http_status: int,
    code: str,
) -> None:
    user_id = uuid.uuid4()
    await add_user(database, tenant, user_id, "x@example.com")
    url = f"/api/v1/_probe/users/{user_id}"
    assert (await probe.get(url, headers={"X-Tenant": tenant.slug})).status_code == 200
    await set_tenant_status(database, tenant, status)
    # The change reaches the cache by NOTIFY after the commit: allow the documented second.
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 1.0
    response = await probe.get(url, headers={"X-Tenant": tenant.slug})
    while response.status_code == 200 and loop.time() < deadline:
        await asyncio.sleep(0.02)
        response = await probe.get(url, headers={"X-Tenant": tenant.slug})
    assert response.status_code == http_status
    assert response.json()["error"] == code
    assert "x@example.com" not in response.text


async def test_suspension_reaches_a_second_instance_within_a_second(
    settings: Settings, tenant: Tenant, database: Database
) -> None:
    user_id = uuid.uuid4()
    await add_user(database, tenant, user_id, "replica@example.com")
    url = f"/api/v1/_probe/users/{user_id}"
    headers = {"X-Tenant": tenant.slug}
    async with running_app(settings) as replica, client_for(install_probe(replica)) as http:
        assert (
            await http.get(url, headers=headers)
        ).status_code == 200  # now cached on the replica
        await set_tenant_status(database, tenant, TenantStatus.SUSPENDED)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 1.0
        status = 200
        while loop.time() < deadline and status == 200:
            status = (await http.get(url, headers=headers)).status_code
            await asyncio.sleep(0.02)
        assert status == 403


async def test_header_is_ignored_when_disabled(settings: Settings, tenant: Tenant) -> None:
    closed = settings.model_copy(update={"tenant_header": False})
    async with running_app(closed) as app, client_for(install_probe(app)) as http:
        response = await http.get(
            f"/api/v1/_probe/users/{uuid.uuid4()}", headers={"X-Tenant": tenant.slug}
        )
    assert response.json()["error"] == "tenant_required"


async def test_probes_ignore_tenant_headers(probe: httpx.AsyncClient) -> None:
    response = await probe.get("/healthz", headers={"X-Tenant": "no-such-tenant"})
    assert response.status_code == 200
