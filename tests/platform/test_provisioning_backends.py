"""A pooled connection that created or dropped its share of tenant schemas gets a new backend.

Why: a PostgreSQL backend's relation cache keeps every relation it created, and each schema-sized
transaction scans it at the end, so provisioning slowed down the longer a connection lived (see
`count_schema_change`). Each test uses a pool of one connection, so the backend it sees is the
one that did the work.
"""

from collections.abc import AsyncIterator
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from tenantry.core import database as database_module
from tenantry.core.database import Database, create_engine
from tenantry.platform.tenants.lifecycle import tenant_lifecycle
from tenantry.platform.tenants.models import TenantRecord
from tenantry.platform.tenants.service import tenant_service
from tests.fixtures.app import unique_slug
from tests.fixtures.database import settings_for

TERM = 3  # schema changes per backend in these tests, instead of the production value


@pytest.fixture
async def one_connection(
    database_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Database]:
    monkeypatch.setattr(database_module, "SCHEMA_CHANGES_PER_BACKEND", TERM)
    settings = settings_for(database_url, database_pool_size=1, database_max_overflow=0)
    database = Database(create_engine(settings, database_url))
    try:
        yield database
    finally:
        await database.dispose()


async def backend_pid(database: Database) -> int:
    async with database.platform_session() as session:
        pid = await session.scalar(text("SELECT pg_backend_pid()"))
    assert isinstance(pid, int)
    return pid


async def provision(database: Database) -> TenantRecord:
    async with database.platform_transaction() as session:
        return await tenant_service.provision(session, slug=unique_slug(), display_name="Term")


async def registered(database: Database, records: list[TenantRecord]) -> int:
    async with database.platform_session() as session:
        count = await session.scalar(
            select(func.count())
            .select_from(TenantRecord)
            .where(TenantRecord.id.in_([record.id for record in records]))
        )
    return int(count or 0)


async def test_provisioning_replaces_the_backend_after_its_term(one_connection: Database) -> None:
    first = await backend_pid(one_connection)
    records = [await provision(one_connection) for _ in range(TERM - 1)]
    assert await backend_pid(one_connection) == first  # not every provisioning reconnects

    records.append(await provision(one_connection))
    second = await backend_pid(one_connection)
    assert second != first
    # The transaction that ended the term committed as usual.
    assert await registered(one_connection, records) == TERM

    records.append(await provision(one_connection))
    assert await backend_pid(one_connection) == second  # the count starts again
    assert await registered(one_connection, records) == TERM + 1


async def test_a_rolled_back_provisioning_counts_and_leaves_nothing(
    one_connection: Database,
) -> None:
    first = await backend_pid(one_connection)
    slug = unique_slug()
    for _ in range(TERM - 1):
        await provision(one_connection)

    async def provision_then_fail() -> None:
        async with one_connection.platform_transaction() as session:
            await tenant_service.provision(session, slug=slug, display_name="Doomed")
            raise RuntimeError("abandoned")

    with pytest.raises(RuntimeError, match="abandoned"):
        await provision_then_fail()
    assert await backend_pid(one_connection) != first
    async with one_connection.platform_session() as session:
        assert await session.scalar(select(TenantRecord).where(TenantRecord.slug == slug)) is None


async def test_purging_counts_too(one_connection: Database) -> None:
    records = [await provision(one_connection) for _ in range(TERM - 1)]
    before = await backend_pid(one_connection)
    async with one_connection.platform_transaction() as session:
        await tenant_lifecycle.schedule_deletion(session, records[0].id, grace=timedelta(0))
    async with one_connection.platform_transaction() as session:
        await tenant_lifecycle.purge(session, records[0].id)
    assert await backend_pid(one_connection) != before
    assert await registered(one_connection, records[:1]) == 0
