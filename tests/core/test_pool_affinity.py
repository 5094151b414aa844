"""A tenant's sessions go back to the pooled connection that served them, when it is idle."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import pytest
from sqlalchemy import exc, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tenantry.core.database import Database, create_engine
from tenantry.core.pool import TenantAffinePool, prefer_connections_of
from tests.fixtures.database import settings_for

POOL = 6
PID = text("SELECT pg_backend_pid()")


async def pid_of(connection: AsyncConnection) -> int:
    return int((await connection.execute(PID)).scalar_one())


async def pid_for(engine: AsyncEngine, key: str | None) -> int:
    prefer_connections_of(key)
    async with engine.connect() as connection:
        return await pid_of(connection)


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    settings = settings_for(
        database_url,
        database_pool_size=POOL,
        database_max_overflow=0,
        database_pool_timeout=0.5,
        database_ping_after_idle_seconds=3600.0,
    )
    engine = create_engine(settings)
    assert isinstance(engine.pool, TenantAffinePool)
    # Open the whole pool at once, so that every checkout below chooses among POOL idle ones.
    async with AsyncExitStack() as stack:
        for _ in range(POOL):
            await pid_of(await stack.enter_async_context(engine.connect()))
    yield engine
    await engine.dispose()


async def test_a_key_returns_to_the_same_connection(engine: AsyncEngine) -> None:
    for number in range(20):
        key = f"tenant_{number}"
        first = await pid_for(engine, key)
        # Other keys in between move other connections around, not this key's first choice.
        for _ in range(3):
            await pid_for(engine, f"other_{number}")
            assert await pid_for(engine, key) == first


async def test_keys_spread_evenly_over_the_pool(engine: AsyncEngine) -> None:
    homes = Counter([await pid_for(engine, f"tenant_{number}") for number in range(300)])
    # Every connection is some key's first choice (a miss has odds of 6 x (5/6)^300), and
    # none takes a lion's share (50 each on average).
    assert len(homes) == POOL, homes
    assert max(homes.values()) < 100, homes


async def test_a_busy_first_choice_gives_the_next_idle_connection_at_once(
    engine: AsyncEngine,
) -> None:
    first = await pid_for(engine, "tenant_a")
    async with engine.connect() as held:
        assert await pid_of(held) == first
        other = await pid_for(engine, "tenant_a")
        assert other != first
        # Taken from the idle ones: nothing new opened, nobody waited for the first choice.
        assert engine.pool.checkedin() == POOL - 1  # type: ignore[attr-defined]
    assert await pid_for(engine, "tenant_a") == first


async def test_without_a_key_the_last_returned_connection_is_taken(engine: AsyncEngine) -> None:
    prefer_connections_of(None)
    for _ in range(3):
        async with engine.connect() as one, engine.connect() as two:
            await pid_of(one)
            last = await pid_of(two)
            await one.close()  # returned first; `two` is returned last, when the block ends
        assert await pid_for(engine, None) == last


async def test_a_waiting_checkout_gets_a_returned_connection_and_times_out_as_before(
    engine: AsyncEngine,
) -> None:
    async with AsyncExitStack() as stack:
        held = [await stack.enter_async_context(engine.connect()) for _ in range(POOL)]
        for connection in held:
            await pid_of(connection)
        with pytest.raises(exc.TimeoutError):
            await pid_for(engine, "tenant_a")
        waiting = asyncio.create_task(pid_for(engine, "tenant_a"))
        await asyncio.sleep(0.05)
        assert not waiting.done()
        returned = await pid_of(held[2])
        await held[2].close()
        assert await waiting == returned


async def test_a_tenant_session_prefers_its_schema_s_connection(engine: AsyncEngine) -> None:
    database = Database(engine)

    async def session_pid(schema: str) -> int:
        async with database.tenant_session(schema) as session:
            return int((await session.execute(PID)).scalar_one())

    for schema in ("tenant_one", "tenant_two", "tenant_three"):
        first = await session_pid(schema)
        assert [await session_pid(schema) for _ in range(4)] == [first] * 4
        # The session set the hint for what runs next in this task.
        assert await pid_for(engine, schema) == first
