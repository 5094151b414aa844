"""Statements dropped from the prepared-statement cache are closed one per statement prepared."""

from itertools import pairwise

from sqlalchemy import text

from tenantry.core.database import create_engine
from tenantry.core.pgconnection import TenantryConnection
from tests.fixtures.database import settings_for

CACHE_SIZE = 10
SERVER_COUNT = text("SELECT count(*) FROM pg_prepared_statements")


async def test_dropped_statements_leave_the_server_one_per_new_statement(
    database_url: str,
) -> None:
    engine = create_engine(settings_for(database_url, database_statement_cache_size=CACHE_SIZE))
    try:
        async with engine.connect() as connection:
            raw = (await connection.get_raw_connection()).driver_connection
            assert isinstance(raw, TenantryConnection)
            counts = []
            # Distinct texts, as the API's many rare variants make them; each one is a new
            # prepared statement.
            for number in range(8 * CACHE_SIZE):
                await connection.execute(text(f"SELECT {number}"))
                counts.append(int((await connection.execute(SERVER_COUNT)).scalar_one()))
    finally:
        await engine.dispose()
    # asyncpg's own clean-up closes a whole dropped batch (a third of the cache) before the next
    # statement: the server's count would fall by several at once.
    assert all(later >= earlier for earlier, later in pairwise(counts)), counts
    # Yet they are closed: without it the count would grow with every statement (80 here).
    # SQLAlchemy keeps up to 1.5x the cache before pruning it, and at most one prune's worth
    # (half the cache) waits to be closed.
    assert max(counts) <= CACHE_SIZE + CACHE_SIZE // 2 + CACHE_SIZE // 2 + 1, counts
    assert counts[-1] >= CACHE_SIZE, counts
