"""Operators, the platform tenant, and databases of their own for tests that change the fleet."""

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import httpx
import pytest
from fastapi import FastAPI

from tenantry.core.database import Database
from tenantry.core.tenancy.context import PLATFORM_TENANT_SLUG, Tenant
from tenantry.platform.tenants.repository import TenantRepository
from tenantry.tenants.roles.service import role_service
from tenantry.tenants.users.models import User
from tests.fixtures.app import runtime_of
from tests.fixtures.database import create_database, drop_database, migrate
from tests.fixtures.identity import DEFAULT_PASSWORD, Account, Login, RoleUserFactory, login

TENANTS = "/platform/v1/tenants"


@pytest.fixture(scope="session")
async def platform_tenant(database: Database) -> Tenant:
    """Created by `db upgrade` (the suite's migrate() goes through it), never by a test."""
    async with database.platform_session() as session:
        record = await TenantRepository(session).get_by_slug(PLATFORM_TENANT_SLUG)
    assert record is not None, "upgrade_fleet should have provisioned the platform tenant"
    return record.to_tenant()


@pytest.fixture
async def operator(
    client: httpx.AsyncClient, platform_tenant: Tenant, make_admin: RoleUserFactory
) -> Login:
    return await login(client, await make_admin(platform_tenant, "operator"))


@pytest.fixture
async def fresh_database_url(database_server: str) -> AsyncIterator[str]:
    """A migrated database of its own: for fleet-wide changes other tests must not see."""
    url = await create_database(database_server)
    await migrate(url)
    try:
        yield url
    finally:
        await drop_database(database_server, url)


async def operator_of(app: FastAPI, client: httpx.AsyncClient) -> Login:
    """A signed-in operator of the installation `app` serves (another database than the suite's)."""
    runtime = runtime_of(app)
    platform = await runtime.directory.by_slug(PLATFORM_TENANT_SLUG)
    assert platform is not None
    email = "ops@other.example"
    async with runtime.database.tenant_transaction(platform.schema) as session:
        user = User(
            email=email,
            email_verified=True,
            password_hash=await runtime.hasher.hash(DEFAULT_PASSWORD),
        )
        session.add(user)
        await session.flush()
        await role_service.grant_builtin(session, user, "operator")
    return await login(client, Account(platform, user.id, email, DEFAULT_PASSWORD))


async def eventually(
    request: Callable[[], Awaitable[httpx.Response]], status: int
) -> httpx.Response:
    """The first answer with `status`. A registry change reaches each replica's tenant cache by
    NOTIFY, a moment after the commit: the very next request may still see the old tenant."""
    deadline = time.monotonic() + 5
    while True:
        response = await request()
        if response.status_code == status or time.monotonic() > deadline:
            return response
        await asyncio.sleep(0.02)
