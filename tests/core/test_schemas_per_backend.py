"""A pooled connection that served its share of tenant schemas gets a new backend.

Why: a PostgreSQL backend keeps catalog caches for every relation it touched, for life, so one
that served thousands of tenants held hundreds of MiB (`bind_search_path_per_transaction`). The
pool here has one connection, so every transaction runs on the backend the test watches.
"""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import text

from tenantry.core.database import Database, create_engine
from tenantry.core.tenancy.context import Tenant
from tests.fixtures.app import TenantFactory
from tests.fixtures.database import settings_for

TERM = 2  # tenant schemas per backend in this test


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[Database]:
    settings = settings_for(
        database_url,
        database_pool_size=1,
        database_max_overflow=0,
        database_schemas_per_backend=TERM,
    )
    database = Database(create_engine(settings, database_url))
    try:
        yield database
    finally:
        await database.dispose()


async def pid_serving(database: Database, tenant: Tenant) -> int:
    async with database.tenant_transaction(tenant.schema) as session:
        # The tenant's own table, under the schema the transaction is bound to.
        assert await session.scalar(text("SELECT count(*) FROM users")) == 0
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


async def test_a_backend_is_replaced_after_serving_its_share_of_schemas(
    one_connection: Database, make_tenant: TenantFactory
) -> None:
    first, second, third = [await make_tenant() for _ in range(3)]
    backend = await pid_serving(one_connection, first)
    # Within the term, however often: the same backend.
    for tenant in (second, first, second, first):
        assert await pid_serving(one_connection, tenant) == backend

    # The third schema is past the term: its transaction still runs on the old backend...
    assert await pid_serving(one_connection, third) == backend
    # ...and the next checkout gets a new one, which starts counting afresh.
    replaced = await pid_serving(one_connection, first)
    assert replaced != backend
    for tenant in (second, first):
        assert await pid_serving(one_connection, tenant) == replaced


async def test_platform_transactions_do_not_count(
    one_connection: Database, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant()
    backend = await pid_serving(one_connection, tenant)
    for _ in range(TERM + 2):
        async with one_connection.platform_transaction() as session:
            await session.execute(text("SELECT 1"))
    assert await pid_serving(one_connection, tenant) == backend
