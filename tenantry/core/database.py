"""The async engine, and sessions bound to the control plane or to one tenant's schema."""

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

from cachetools import LRUCache
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from tenantry.core.models import TENANT_SCHEMA
from tenantry.core.settings import Settings


def create_engine(settings: Settings, url: str | None = None) -> AsyncEngine:
    """An asyncpg engine sized from settings. `url` overrides the settings' URL (tests, CLI)."""
    target = url or settings.database_url
    if target is None:
        raise RuntimeError("TENANTRY_DATABASE_URL is not set")
    server_settings = {"application_name": "tenantry"}
    if settings.database_statement_timeout_ms:
        server_settings["statement_timeout"] = str(settings.database_statement_timeout_ms)
    return create_async_engine(
        target,
        pool_size=settings.database_pool_size,
        max_overflow=settings.database_max_overflow,
        pool_timeout=settings.database_pool_timeout,
        pool_pre_ping=True,
        connect_args={
            "server_settings": server_settings,
            # Every tenant schema gives its statements a different text, so the per-connection
            # prepared-statement cache must hold more than asyncpg's default 100.
            "prepared_statement_cache_size": settings.database_statement_cache_size,
            "timeout": settings.database_pool_timeout,
        },
    )


class Database:
    """Owns the engine and hands out sessions; one instance per process."""

    def __init__(self, engine: AsyncEngine, *, bind_cache_size: int = 10_000) -> None:
        self.engine = engine
        self._platform_sessions = async_sessionmaker(engine, expire_on_commit=False)
        self._tenant_binds: LRUCache[str, AsyncEngine] = LRUCache(maxsize=bind_cache_size)

    def tenant_engine(self, schema: str) -> AsyncEngine:
        """The engine with `tenant` translated to `schema`, cached per schema."""
        bound = self._tenant_binds.get(schema)
        if bound is None:
            bound = self.engine.execution_options(schema_translate_map={TENANT_SCHEMA: schema})
            self._tenant_binds[schema] = bound
        return bound

    def platform_session(self) -> AsyncSession:
        return self._platform_sessions()

    def tenant_session(self, schema: str) -> AsyncSession:
        # One session per tenant: the identity map would conflate equal keys in two schemas.
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
