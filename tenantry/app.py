"""create_app(): composes the two planes, the middleware and the error handlers."""

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from tenantry import __version__
from tenantry.core.api import CLIENT_ERRORS
from tenantry.core.authz.cache import PolicyCache
from tenantry.core.database import Database, create_engine
from tenantry.core.email import build_mailer
from tenantry.core.errors import install_error_handlers
from tenantry.core.health import router as health_router
from tenantry.core.notify import PgListener, asyncpg_dsn
from tenantry.core.observability.logging import configure_logging
from tenantry.core.observability.metrics import (
    TenantStatusSampler,
    configure_metrics,
    metrics_router,
    observe_garbage_collector,
    observe_pool,
    worker_stopped,
)
from tenantry.core.observability.request_context import RequestContextMiddleware
from tenantry.core.ratelimit import RateLimiter
from tenantry.core.request_limits import RequestLimitsMiddleware
from tenantry.core.runtime import Runtime
from tenantry.core.security.keys import load_keyset
from tenantry.core.security.passwords import PasswordHasher
from tenantry.core.settings import Settings, get_settings
from tenantry.core.tenancy.directory import TenantDirectory
from tenantry.core.tenancy.middleware import TenantResolverMiddleware
from tenantry.platform.router import platform_routers
from tenantry.platform.tenants.repository import RegistryTenantSource
from tenantry.tenants.roles.service import policy_loader
from tenantry.tenants.router import tenant_routers

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
    return Runtime(
        settings=settings,
        database=database,
        listener=listener,
        directory=directory,
        keys=load_keyset(settings),
        hasher=PasswordHasher.from_settings(settings),
        mailer=build_mailer(settings),
        limiter=RateLimiter.from_settings(settings),
        policies=PolicyCache(policy_loader(database), listener, maxsize=settings.authz_cache_size),
    )


# Collect the youngest generation every 50,000 net allocations instead of 700, and consider a full
# collection 100 times less often. Per-tenant caches (Casbin enforcers, prepared statements)
# hold millions of objects with many tenants, and the default thresholds ran a full collection
# every few seconds under load: 120-270 ms each at 1,000 tenants, finding nothing to free, which
# was the whole p99 (bench/README.md). The middle generation is collected every 2 young ones
# rather than 20: with 50,000-object young collections, 20 of them let it grow to a million
# objects while caches fill, and collecting that took 450 ms (`tenantry_gc_pause_seconds`).
GC_THRESHOLDS = (50_000, 2, 100)


def tune_garbage_collector() -> None:
    # Everything alive at start-up (modules, routes, compiled schemas) lives as long as the
    # process: frozen, it is never scanned again.
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings)
    configure_metrics(settings)
    runtime = build_runtime(settings)
    observe_pool(runtime.database.engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        tune_garbage_collector()
        observe_garbage_collector()
        try:
            yield
        finally:
            await runtime.stop()
            # Pooled connections dropped without being closed go back to the pool when collected,
            # and each return writes a live gauge: collected now, none can write after the
            # process has been marked dead (which would leave its gauge file behind). With the
            # raised thresholds above, the collector might otherwise not run again before exit.
            gc.collect()
            worker_stopped()

    app = FastAPI(
        title="Tenantry",
        version=__version__,
        summary="Multi-tenant user management: tenants, users, roles, sessions, OAuth2 tokens.",
        lifespan=lifespan,
        responses=CLIENT_ERRORS,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    # Routes are tried in order: the tenant plane's first (see tenant_routers), so the busiest
    # requests find theirs soonest; probes and scrapes come a few times a minute.
    for router in tenant_routers():
        app.include_router(router)
    app.include_router(health_router)
    tenant_counts = RegistryTenantSource(runtime.database).count_by_status
    app.include_router(metrics_router(TenantStatusSampler(tenant_counts), settings.metrics_token))
    for router in platform_routers():
        app.include_router(router)
    app.add_middleware(
        TenantResolverMiddleware,
        directory=runtime.directory,
        base_domain=settings.base_domain,
        header_enabled=settings.tenant_header_enabled,
        exempt_paths=UNTENANTED_PATHS,
    )
    # Inside the request context (refusals are logged and counted), before tenant resolution.
    app.add_middleware(RequestLimitsMiddleware, max_body_bytes=settings.max_body_bytes)
    app.add_middleware(RequestContextMiddleware)
    return app
