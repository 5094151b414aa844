"""Tenant statements share one text and one prepared statement; a transaction sees its own schema.

One pooled connection serves every tenant below, so anything a transaction left behind on it (a
search path, a plan) would show up in the next tenant's results.
"""

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select, text, update

from tenantry.core.database import Database, create_engine
from tenantry.core.models import TENANT_SCHEMA
from tenantry.core.pgconnection import UNQUALIFIED, UnboundTenantStatement
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.users.models import User
from tests.fixtures.app import TenantFactory
from tests.fixtures.database import settings_for
from tests.fixtures.identity import UserFactory

SHOW_PATH = text("SHOW search_path")


@pytest.fixture
async def one_connection(database_url: str) -> AsyncIterator[Database]:
    settings = settings_for(database_url, database_pool_size=1, database_max_overflow=0)
    database = Database(create_engine(settings))
    yield database
    await database.dispose()


async def emails(database: Database, tenant: Tenant) -> list[str]:
    async with database.tenant_transaction(tenant.schema) as session:
        return list((await session.scalars(select(User.email).order_by(User.email))).all())


async def names_in(database: Database, tenant: Tenant) -> list[str | None]:
    # Schema-qualified, as provisioning reads: independent of the binding under test.
    async with database.engine.connect() as connection:
        await connection.execution_options(schema_translate_map={TENANT_SCHEMA: tenant.schema})
        rows = await connection.execute(select(User.display_name).order_by(User.email))
        names = [row.display_name for row in rows]
        await connection.rollback()
    return names


async def test_tenants_alternating_on_one_connection_read_and_write_their_own_rows(
    one_connection: Database, make_tenant: TenantFactory, make_user: UserFactory
) -> None:
    first, second = await make_tenant(), await make_tenant()
    first_user, second_user = await make_user(first), await make_user(second)
    for round_number in range(3):
        assert await emails(one_connection, first) == [first_user.email]
        assert await emails(one_connection, second) == [second_user.email]
        for tenant in (first, second):
            async with one_connection.tenant_transaction(tenant.schema) as session:
                await session.execute(
                    update(User).values(display_name=f"{tenant.slug} {round_number}")
                )
        assert await names_in(one_connection, first) == [f"{first.slug} {round_number}"]
        assert await names_in(one_connection, second) == [f"{second.slug} {round_number}"]

    async with one_connection.engine.connect() as connection:
        statements = await connection.execute(
            text("SELECT statement FROM pg_prepared_statements WHERE statement LIKE :read"),
            {"read": "SELECT users.email %"},
        )
        # The same text, prepared once on this connection, for both schemas; and no qualifier.
        assert [row.statement for row in statements] == [
            "SELECT users.email \nFROM users ORDER BY users.email"
        ]
        await connection.rollback()


async def test_the_schema_lasts_only_as_long_as_the_transaction(
    one_connection: Database, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant()
    async with one_connection.platform_transaction() as session:
        default = (await session.execute(SHOW_PATH)).scalar_one()
    assert tenant.schema not in default

    async with one_connection.tenant_transaction(tenant.schema) as session:
        assert (await session.execute(SHOW_PATH)).scalar_one() == tenant.schema
    async with one_connection.platform_transaction() as session:
        assert (await session.execute(SHOW_PATH)).scalar_one() == default

    async def fail_in_transaction() -> None:
        async with one_connection.tenant_transaction(tenant.schema) as session:
            await session.execute(select(User.id))
            raise LookupError("rolled back")

    with pytest.raises(LookupError):
        await fail_in_transaction()
    async with one_connection.platform_transaction() as session:
        assert (await session.execute(SHOW_PATH)).scalar_one() == default


async def test_a_tenant_statement_outside_a_bound_transaction_is_refused(
    one_connection: Database,
) -> None:
    async with one_connection.engine.connect() as connection:
        await connection.execution_options(schema_translate_map={TENANT_SCHEMA: UNQUALIFIED})
        # A transaction bound to no schema: the statement never reaches the server.
        with pytest.raises(UnboundTenantStatement):
            await connection.execute(select(User.id))
        await connection.rollback()
