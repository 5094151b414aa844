"""Prometheus metrics: one module-level object per series, and the `/metrics` endpoint.

Code that observes something imports the object and increments it, e.g.
`LOGINS.labels(outcome="success", tenant=tenant_label(tenant.slug)).inc()`.

Several worker processes (`tenantry serve --workers N`): set `PROMETHEUS_MULTIPROC_DIR` to an
empty, writable directory before the server starts. prometheus-client then keeps each process's
values in memory-mapped files there, and a scrape, whichever worker answers it, merges every
process's files (`MultiProcessCollector`). Gauges say how the workers' values combine
(`multiprocess_mode`); `tenantry serve` empties the directory at start-up and each worker marks
itself dead when it stops, so that its live gauges stop counting. Without the variable, metrics
live in the process and the default registry also exports the `process_*` and `python_*` series.
"""

import asyncio
import gc
import hmac
import os
import sys
import time
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Iterable, Mapping
from functools import wraps
from pathlib import Path
from typing import Annotated, Any, ParamSpec, TypeVar

import structlog
from fastapi import APIRouter, Header, Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from pydantic import SecretStr
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool
from starlette.types import Scope

from tenantry import __version__
from tenantry.core.errors import Unauthorized, is_database_outage
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import TenantStatus

log = structlog.get_logger(__name__)

MULTIPROC_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
# prometheus-client opens its per-process files as the metrics below are created, so the
# directory must exist before then (a fresh emptyDir or tmpfs may not have it yet).
if _directory := os.environ.get(MULTIPROC_DIR_VARIABLE):
    Path(_directory).mkdir(parents=True, exist_ok=True)

# --- HTTP, recorded by RequestContextMiddleware -------------------------------------------------

HTTP_REQUESTS = Counter(
    "tenantry_http_requests_total",
    "HTTP requests answered, by method, route template and status code.",
    ["method", "route", "status"],
)
HTTP_LATENCY = Histogram(
    "tenantry_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route template.",
    ["method", "route"],
)
HTTP_IN_FLIGHT = Gauge(
    "tenantry_http_requests_in_flight",
    "HTTP requests being answered right now.",
    multiprocess_mode="livesum",
)

# --- Identity -------------------------------------------------------------------------------------

LOGINS = Counter(
    "tenantry_logins_total",
    "Password logins by outcome: success, invalid_credentials, locked, disabled, rate_limited, "
    "busy (no password-check slot came free in time; answered 503). "
    "`tenant` is the tenant slug when TENANTRY_METRICS_TENANT_LABELS is on, else empty.",
    ["outcome", "tenant"],
)
LOCKOUTS = Counter("tenantry_lockouts_total", "Accounts locked after repeated failed logins.")
TOKENS_ISSUED = Counter(
    "tenantry_tokens_issued_total",
    "Access tokens issued, by grant type: password, refresh_token, client_credentials.",
    ["grant"],
)
REFRESH_REUSE = Counter(
    "tenantry_refresh_token_reuse_total",
    "Replays of an already used refresh token (each revokes the token's whole family).",
)
RATE_LIMITED = Counter(
    "tenantry_rate_limited_total", "Requests refused by a rate limit, by limit scope.", ["scope"]
)
AUTHZ_DENIALS = Counter(
    "tenantry_authz_denials_total", "Authorization denials, by required permission.", ["permission"]
)

# --- Tenants and the database ---------------------------------------------------------------------

TENANT_EVENTS = Counter(
    "tenantry_tenant_lifecycle_total",
    "Tenant lifecycle events: provisioned, suspended, reactivated, deleted.",
    ["action"],
)
# Set at scrape time from the registry; every worker reads the same table, so the freshest wins.
TENANTS_BY_STATUS = Gauge(
    "tenantry_tenants", "Tenants by status.", ["status"], multiprocess_mode="mostrecent"
)
PROVISIONING_SECONDS = Histogram(
    "tenantry_tenant_provisioning_seconds",
    "Time to provision a tenant: registry row, schema, tables, seed data.",
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)
MIGRATION_SECONDS = Histogram(
    "tenantry_tenant_migration_seconds",
    "Time to migrate one tenant schema to the head revision.",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0),
)
DB_POOL_SIZE = Gauge(
    "tenantry_db_pool_size",
    "Configured size of the database connection pool (summed over worker processes).",
    multiprocess_mode="livesum",
)
DB_POOL_CHECKED_OUT = Gauge(
    "tenantry_db_pool_checked_out",
    "Database connections checked out of the pool right now (summed over worker processes).",
    multiprocess_mode="livesum",
)
# Python's default `python_gc_*` series count collections but do not time them, and a full
# collection over the per-tenant caches (Casbin enforcers, prepared statements) stops every
# request of the process while it runs: the first place to look at when p99 jumps.
GC_PAUSE_SECONDS = Histogram(
    "tenantry_gc_pause_seconds",
    "Time the process spent in one garbage collection, by generation (2 = full).",
    ["generation"],
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
# A gauge rather than an Info: Info does not work in multiprocess mode.
BUILD_INFO = Gauge(
    "tenantry_build_info",
    "Always 1; the labels name the running version.",
    ["version", "python_version"],
    multiprocess_mode="max",
)
PYTHON_VERSION = "{}.{}.{}".format(*sys.version_info[:3])
BUILD_INFO.labels(version=__version__, python_version=PYTHON_VERSION).set(1)

# --- Labels ---------------------------------------------------------------------------------------

UNMATCHED_ROUTE = "unmatched"
# Anything else a client may send as a method collapses into one value: labels stay bounded.
_KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_tenant_labels_enabled = False


def configure_metrics(settings: Settings) -> None:
    """Apply the settings that shape label values (per-tenant labels on or off)."""
    global _tenant_labels_enabled
    _tenant_labels_enabled = settings.metrics_tenant_labels


def tenant_label(slug: str | None) -> str:
    """The `tenant` label value: the slug when per-tenant labels are on, else "".

    The label set stays constant either way, so dashboards and recording rules need no change.
    """
    return (slug or "") if _tenant_labels_enabled else ""


def route_label(scope: Scope) -> str:
    """The route template (`/api/v1/users/{user_id}`), never the raw path: one series per route."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


def method_label(method: str) -> str:
    return method if method in _KNOWN_METHODS else "OTHER"


# --- Garbage-collector pauses ------------------------------------------------------------------

# The collector's callback only notes each pause: observing the histogram there could deadlock,
# because a collection can start inside another metric's update while it holds prometheus-client's
# lock (one lock for every series in multiprocess mode). Notes are moved into the histogram after
# each request and before each scrape (`record_gc_pauses`).
_gc_started = 0.0
_gc_pauses: deque[tuple[int, float]] = deque(maxlen=4096)
_GC_PAUSES = tuple(GC_PAUSE_SECONDS.labels(generation=str(generation)) for generation in range(3))


def _note_collection(phase: str, info: dict[str, int]) -> None:
    global _gc_started
    if phase == "start":
        _gc_started = time.perf_counter()
    else:
        _gc_pauses.append((info["generation"], time.perf_counter() - _gc_started))


def observe_garbage_collector() -> None:
    """Time every collection into `tenantry_gc_pause_seconds`; idempotent (tests build many
    apps in one process)."""
    if _note_collection not in gc.callbacks:
        gc.callbacks.append(_note_collection)


def record_gc_pauses() -> None:
    """Move the pauses noted since the last call into the histogram; cheap when there are none."""
    while _gc_pauses:
        generation, seconds = _gc_pauses.popleft()
        _GC_PAUSES[generation].observe(seconds)


# --- Instrumentation helpers ----------------------------------------------------------------------

P = ParamSpec("P")
R = TypeVar("R")


def observe_duration(
    histogram: Histogram,
) -> Callable[[Callable[P, Awaitable[R]]], Callable[P, Coroutine[Any, Any, R]]]:
    """Decorate a coroutine function to record how long each call takes, failed calls included.

    prometheus-client's own `Histogram.time()` decorator would time only the creation of the
    coroutine, not its run.
    """

    def decorate(function: Callable[P, Awaitable[R]]) -> Callable[P, Coroutine[Any, Any, R]]:
        @wraps(function)
        async def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            started = time.perf_counter()
            try:
                return await function(*args, **kwargs)
            finally:
                histogram.observe(time.perf_counter() - started)

        return timed

    return decorate


def observe_pool(engine: AsyncEngine) -> None:
    """Keep the pool gauges current from pool events.

    Events rather than reading the pool when scraped: with several workers a scrape reaches one
    process, and only values each process writes as they change are current for all of them.
    """
    pool = engine.sync_engine.pool
    if isinstance(pool, QueuePool):
        DB_POOL_SIZE.set(pool.size())
    # Listening on the engine (not the pool) survives `engine.dispose()`, which replaces the pool.
    event.listen(engine.sync_engine, "checkout", _on_checkout)
    event.listen(engine.sync_engine, "checkin", _on_checkin)


def _on_checkout(*_: object) -> None:
    DB_POOL_CHECKED_OUT.inc()


def _on_checkin(*_: object) -> None:
    DB_POOL_CHECKED_OUT.dec()


TenantCounts = Callable[[], Awaitable[Mapping[str, int]]]


class TenantStatusSampler:
    """Refreshes `tenantry_tenants` at scrape time: one GROUP BY query, reused for `ttl` seconds.

    If the database is unreachable or slow, the scrape still answers, with the last known values:
    metrics matter most during an outage.
    """

    def __init__(
        self,
        count: TenantCounts,
        *,
        ttl: float = 5.0,
        timeout: float = 2.0,
        statuses: Iterable[str] = tuple(TenantStatus),
    ) -> None:
        self._count = count
        self._ttl = ttl
        self._timeout = timeout
        self._statuses = tuple(statuses)
        self._fresh_until = 0.0
        self._lock = asyncio.Lock()

    async def refresh(self) -> None:
        async with self._lock:  # concurrent scrapes share one query
            now = time.monotonic()
            if now < self._fresh_until:
                return
            self._fresh_until = now + self._ttl
            try:
                counts = await asyncio.wait_for(self._count(), self._timeout)
            except TimeoutError:
                log.warning("metrics.tenant_count_failed", reason="timeout")
                return
            except Exception as exc:
                if not is_database_outage(exc):
                    raise
                log.warning("metrics.tenant_count_failed", reason="database_unreachable")
                return
            # Every known status gets a value, so a status that empties reads 0, not stale.
            for status in {*self._statuses, *counts}:
                TENANTS_BY_STATUS.labels(status=status).set(counts.get(status, 0))


# --- Exposition -----------------------------------------------------------------------------------


def multiprocess_dir() -> Path | None:
    value = os.environ.get(MULTIPROC_DIR_VARIABLE)
    return Path(value) if value else None


def prepare_multiprocess_dir() -> None:
    """Before workers start, delete the files of earlier processes: they would count as live.

    This process's own files stay: it imported the metrics already and keeps them mapped.
    """
    directory = multiprocess_dir()
    if directory is None:
        return
    own = f"_{os.getpid()}.db"
    for stale in directory.glob("*.db"):
        if not stale.name.endswith(own):
            stale.unlink()


def worker_stopped() -> None:
    """Called when a process that serves stops: its live gauges (in flight, pool) stop counting."""
    if multiprocess_dir() is not None:
        multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


def render_metrics() -> bytes:
    """Every series in Prometheus text format, merged over worker processes when there are any."""
    record_gc_pauses()
    if multiprocess_dir() is None:
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


def metrics_router(sampler: TenantStatusSampler, token: SecretStr | None) -> APIRouter:
    """`GET /metrics`: open by default, or wants `Authorization: Bearer <metrics token>`."""
    router = APIRouter()
    expected = token.get_secret_value().encode() if token is not None else None

    @router.get("/metrics", include_in_schema=False)
    async def metrics(authorization: Annotated[str | None, Header()] = None) -> Response:
        if expected is not None:
            scheme, _, presented = (authorization or "").partition(" ")
            # Constant-time comparison: the answer's timing must not reveal the token.
            if scheme.lower() != "bearer" or not hmac.compare_digest(
                presented.strip().encode(), expected
            ):
                raise Unauthorized("A valid metrics token is required.")
        await sampler.refresh()
        return Response(render_metrics(), media_type=CONTENT_TYPE_LATEST)

    return router
