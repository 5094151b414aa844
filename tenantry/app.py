"""create_app(): composes the two planes, the middleware and the error handlers."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import APIRouter, FastAPI

from tenantry import __version__
from tenantry.core.database import Database, create_engine
from tenantry.core.errors import install_error_handlers
from tenantry.core.health import router as health_router
from tenantry.core.notify import PgListener, asyncpg_dsn
from tenantry.core.observability.logging import configure_logging
from tenantry.core.observability.request_context import RequestContextMiddleware
from tenantry.core.runtime import Runtime
from tenantry.core.settings import Settings, get_settings
from tenantry.core.tenancy.directory import TenantDirectory
from tenantry.core.tenancy.middleware import TenantResolverMiddleware
from tenantry.platform.tenants.repository import RegistryTenantSource

# Probes and scrapes never depend on a tenant, even when a stray X-Tenant header comes along.
UNTENANTED_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})


def build_runtime(settings: Settings) -> Runtime:
    if settings.database_url is None:
        raise RuntimeError("TENANTRY_DATABASE_URL is not set (use `make run` for a local database)")
    database = Database(create_engine(settings), bind_cache_size=settings.tenant_cache_size)
    listener = PgListener(asyncpg_dsn(settings.database_url))
    directory = TenantDirectory(
        RegistryTenantSource(database),
        listener,
        ttl=settings.tenant_cache_ttl_seconds,
        maxsize=settings.tenant_cache_size,
    )
    return Runtime(settings=settings, database=database, listener=listener, directory=directory)


def api_router() -> APIRouter:
    """Every versioned route of the tenant plane, under /api/v1."""
    return APIRouter(prefix="/api/v1")


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    runtime = build_runtime(settings)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(
        title="Tenantry",
        version=__version__,
        summary="Multi-tenant user management: tenants, users, roles, sessions, OAuth2 tokens.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(api_router())
    app.add_middleware(
        TenantResolverMiddleware,
        directory=runtime.directory,
        base_domain=settings.base_domain,
        header_enabled=settings.tenant_header_enabled,
        exempt_paths=UNTENANTED_PATHS,
    )
    app.add_middleware(RequestContextMiddleware)
    return app
