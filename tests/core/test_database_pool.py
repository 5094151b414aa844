"""Pooled connections are checked only after sitting idle, and a dead one never outlives one use."""

from collections.abc import AsyncIterator

import asyncpg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tenantry.core.database import create_engine
from tenantry.core.notify import asyncpg_dsn
from tests.fixtures.database import settings_for


async def backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as connection:
        return int((await connection.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def terminate(database_url: str, pid: int) -> None:
    """End the backend and wait until it is gone (the signal is asynchronous)."""
    killer = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        assert await killer.fetchval("SELECT pg_terminate_backend($1, 2000)", pid)
    finally:
        await killer.close()


@pytest.fixture
async def one_connection_engine(
    database_url: str, request: pytest.FixtureRequest
) -> AsyncIterator[AsyncEngine]:
    settings = settings_for(
        database_url,
        database_pool_size=1,
        database_max_overflow=0,
        database_ping_after_idle_seconds=request.param,
    )
    engine = create_engine(settings)
    yield engine
    await engine.dispose()


@pytest.mark.parametrize("one_connection_engine", [0.0], indirect=True)
async def test_an_idle_connection_is_pinged_and_replaced_before_use(
    one_connection_engine: AsyncEngine, database_url: str
) -> None:
    first = await backend_pid(one_connection_engine)
    await terminate(database_url, first)
    # The checkout's ping finds the connection gone; the pool opens another, and the caller
    # never sees the failure.
    second = await backend_pid(one_connection_engine)
    assert second != first


@pytest.mark.parametrize("one_connection_engine", [3600.0], indirect=True)
async def test_a_recently_used_connection_is_not_pinged_and_fails_only_once(
    one_connection_engine: AsyncEngine, database_url: str
) -> None:
    first = await backend_pid(one_connection_engine)
    assert await backend_pid(one_connection_engine) == first  # reused, not reopened
    await terminate(database_url, first)
    with pytest.raises(DBAPIError) as caught:
        await backend_pid(one_connection_engine)
    assert caught.value.connection_invalidated  # what the error handlers answer 503 for
    assert await backend_pid(one_connection_engine) != first
