"""The async engine, and sessions bound to the control plane or to one tenant's schema."""

import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from cachetools import LRUCache
from sqlalchemy import Connection, event, exc
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection

from tenantry.core.models import TENANT_SCHEMA
from tenantry.core.pgconnection import UNQUALIFIED, TenantryConnection
from tenantry.core.pool import TenantAffinePool, prefer_connections_of
from tenantry.core.settings import Settings


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """An asyncpg engine sized from settings. `url` overrides the settings' URL (tests, CLI)."""
    target = url or settings.database_url
    if target is None:
        raise RuntimeError("TENANTRY_DATABASE_URL is not set")
    server_settings = {"application_name": "tenantry"}
    if settings.database_statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.database_statement_timeout_ms)
    engine = create_async_engine(
        target,
        # A tenant's sessions go back to the connections whose backends already hold its
        # schema's catalog entries (see pool).
        poolclass=TenantAffinePool,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        connect_args={
            "server_settings": server_settings,
            # Tenant statements are bound to their schema per transaction, and statements the
            # cache drops are closed at a steady pace rather than in bursts (see pgconnection).
            "prepared_statement_cache_size": settings.database_statement_cache_size,
            "connection_class": TenantryConnection,
            "timeout": settings.database_pool_timeout,
        },
    )
    ping_idle_connections(engine, settings.database_ping_after_idle_seconds)
    bind_search_path_per_transaction(
        engine, schemas_per_backend=settings.database_schemas_per_backend
    )
    return engine


_SEARCH_PATH = "tenantry_tenant_schema"  # the execution option `Database.tenant_engine` sets
_SCHEMAS_SERVED = "tenantry_schemas_served"


def bind_search_path_per_transaction(engine: AsyncEngine, *, schemas_per_backend: int) -> None:
    """Each transaction's BEGIN binds the schema of the engine that began it, or none; a pooled
    connection that has served more than `schemas_per_backend` tenant schemas gets a new backend
    at its next checkout (the open transaction goes on and ends as usual).

    See pgconnection for the binding, and why it cannot leak into another transaction. The term
    bounds PostgreSQL's memory: a backend keeps relation- and catalog-cache entries for every
    table and index it touched, for as long as it lives. Measured on PostgreSQL 15 (one
    connection, one query joining `users` and `sessions` in each of 400 tenant schemas): the
    backend's CacheMemoryContext grew from 1 MiB to 24 MiB, about 60 KiB a schema, and the
    service touches more tables than that. Extrapolated to 5,000 tenants and 30 pooled
    connections, several GiB of server memory. The tenant-affine pool keeps most tenants on the
    same few connections, so a backend reaches the term only when load spills a tenant elsewhere.
    """

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(connection: Connection) -> None:
        pooled = connection.connection
        driver = pooled.driver_connection
        if not isinstance(driver, TenantryConnection):
            return
        schema = connection.get_execution_options().get(_SEARCH_PATH)
        driver.bind_search_path(schema)
        if schema is not None:
            # `info` belongs to the pooled connection and is emptied when its backend is replaced.
            served: set[str] = pooled.info.setdefault(_SCHEMAS_SERVED, set())
            served.add(schema)
            if len(served) > schemas_per_backend:
                pooled.invalidate(soft=True)


_RETURNED_AT = "tenantry_returned_at"


def ping_idle_connections(engine: AsyncEngine, idle_seconds: float) -> None:
    """Check a pooled connection at checkout only when it sat idle for `idle_seconds` or more.

    SQLAlchemy's `pool_pre_ping` checks every checkout, and with asyncpg a check is three round
    trips (BEGIN, an empty statement, ROLLBACK): half of the statements of a simple read. A
    connection returned moments ago is alive unless the server went away in between, and then
    the error it raises is a disconnect, which invalidates the whole pool and answers 503 (the
    same bet as HikariCP's `aliveBypassWindowMs`). One that sat idle, which a restart, failover or
    idle-timeout proxy may have cut, is pinged; if the ping fails, the pool replaces it before
    the request sees it. `idle_seconds=0` pings every checkout.
    """

    @event.listens_for(engine.sync_engine, "checkin")
    def _returned(_: Any, record: ConnectionPoolEntry) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine.sync_engine, "checkout")
    def _checked_out(
        dbapi_connection: Any, record: ConnectionPoolEntry, _: PoolProxiedConnection
    ) -> None:
        returned = record.info.get(_RETURNED_AT)
        # None: opened for this very checkout (`info` is cleared with the DBAPI connection).
        if returned is None or time.monotonic() - returned < idle_seconds:
            return
        try:
            dbapi_connection.ping()
        except Exception as error:
            raise exc.DisconnectionError("the pooled connection is gone") from error


class Database:
    """Owns the engine and hands out sessions; one instance per process."""

    def __init__(self, engine: AsyncEngine, *, bind_cache_size: int = 10_000) -> None:
        self.engine = engine
        self._platform_sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._tenant_binds: LRUCache[str, AsyncEngine] = LRUCache(maxsize=bind_cache_size)

    def tenant_engine(self, schema: str) -> AsyncEngine:
        """The engine for one tenant's requests, cached per schema.

        Its statements leave the schema out (`tenant` becomes `UNQUALIFIED`, which the connection
        removes) and each of its transactions runs with `schema` alone on the search path, so all
        tenants share one text, and one prepared statement, per query. ARCHITECTURE.md has every
        statement schema-qualified; pgconnection says why this departs from it, with the
        measurement, and why it keeps what that choice was for.
        """
        bound = self._tenant_binds.get(schema)
        if bound is None:
            options = {"schema_translate_map": {TENANT_SCHEMA: UNQUALIFIED}, _SEARCH_PATH: schema}
            bound = self.engine.execution_options(**options)
            self._tenant_binds[schema] = bound
        return bound

    def platform_session(self) -> AsyncSession:
        return self._platform_sessions()

    def tenant_session(self, schema: str) -> AsyncSession:
        # One session per tenant: the identity map would conflate equal keys in two schemas.
        prefer_connections_of(schema)
        return AsyncSession(bind=self.tenant_engine(schema), expire_on_commit=False)

    @asynccontextmanager
    async def tenant_transaction(self, schema: str) -> AsyncIterator[AsyncSession]:
        """A session for background work in one tenant: commits on success, rolls back on error."""
        async with self.tenant_session(schema) as session, session.begin():
            yield session

    @asynccontextmanager
    async def platform_transaction(self) -> AsyncIterator[AsyncSession]:
        async with self.platform_session() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


_SCHEMA_CHANGES = "tenantry_schema_changes"
SCHEMA_CHANGES_PER_BACKEND = 25


async def count_schema_change(connection: AsyncConnection) -> None:
    """Note that this connection's transaction creates or drops a whole tenant schema; every
    `SCHEMA_CHANGES_PER_BACKEND` of them, the pooled connection gets a new backend at its next
    checkout (the open transaction goes on and ends as usual).

    A PostgreSQL backend keeps a relation-cache entry for every table and index it created, for
    as long as it lives, and a transaction that touches more than 32 relations (MAX_EOXACT_LIST
    in PostgreSQL's relcache.c) scans that whole cache when it ends. Provisioning touches about
    50, so each tenant a backend provisioned made its next one slower: one connection
    provisioning tenant after tenant went from 36 ms a tenant to 94 ms within 2,000. A new
    backend costs a connection and cold catalog caches, 10-15 ms here, which is why it is not
    done after every schema.
    """
    raw = await connection.get_raw_connection()
    changes = raw.info.get(_SCHEMA_CHANGES, 0) + 1
    raw.info[_SCHEMA_CHANGES] = changes  # `info` is cleared when the backend is replaced
    if changes >= SCHEMA_CHANGES_PER_BACKEND:
        raw.invalidate(soft=True)  # SQLAlchemy: not closed now; replaced at the next checkout


@contextmanager
def schema_translated(connection: Connection, schema: str) -> Iterator[Connection]:
    """Translate `tenant` to `schema` on an open connection for a while, then restore it.

    `Connection.execution_options()` changes the connection in place, so a provisioning or
    migration transaction that touches several schemas must put the previous map back.
    """
    previous = connection.get_execution_options().get("schema_translate_map")
    connection.execution_options(schema_translate_map={TENANT_SCHEMA: schema})
    try:
        yield connection
    finally:
        connection.execution_options(schema_translate_map=previous)
