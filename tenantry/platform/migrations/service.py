"""Fleet migrations: the platform schema first, then every tenant schema that is behind.

Each revision of each tenant runs in its own transaction and records the revision reached in the
registry in that same transaction, so a failure leaves that tenant at its last good revision and
the others upgraded; a rerun picks up where it stopped. Whether anything is behind is one query
over the registry, however many tenants exist. Parallel runs use worker processes (see
`alembic_runner` for why not tasks); each holds one connection, so `concurrency` bounds them.
"""

import asyncio
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from multiprocessing import get_context
from uuid import UUID

import structlog
from sqlalchemy import Select, func, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from tenantry.core.observability.metrics import MIGRATION_SECONDS, observe_duration
from tenantry.platform.migrations import worker
from tenantry.platform.migrations.alembic_runner import (
    tenant_head,
    upgrade_path,
    upgrade_platform_sync,
    upgrade_tenant_sync,
    version_table,
)
from tenantry.platform.tenants.models import TenantRecord
from tenantry.platform.tenants.service import ensure_platform_tenant

log = structlog.get_logger(__name__)

# Serialises concurrent `db upgrade` runs (two deploys at once) on one database; with a second
# key, one tenant schema at a time.
_UPGRADE_LOCK_KEY = 0x7E4A47

Progress = Callable[["BehindTenant", str | None], None]


def default_concurrency() -> int:
    """Half the CPUs, at most 4: each worker process and its database backend keep a CPU busy,
    and on a small machine (measured on 2 CPUs) one process is faster than two."""
    return max(1, min(4, (os.cpu_count() or 2) // 2))


@dataclass(slots=True)
class FleetReport:
    target: str
    upgraded: list[str] = field(default_factory=list)
    current: int = 0
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


@dataclass(frozen=True, slots=True)
class BehindTenant:
    id: UUID
    slug: str
    schema: str
    version: str | None


@dataclass(frozen=True, slots=True)
class FleetStatus:
    target: str
    total: int
    behind: list[BehindTenant]


async def upgrade_platform(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            select(
                func.pg_advisory_xact_lock(_UPGRADE_LOCK_KEY),
                func.set_config("statement_timeout", "0", True),
            )
        )
        await connection.run_sync(upgrade_platform_sync)


def _behind_query(target: str) -> Select[UUID, str, str, str | None]:
    return (
        select(
            TenantRecord.id,
            TenantRecord.slug,
            TenantRecord.schema_name,
            TenantRecord.schema_version,
        )
        .where(TenantRecord.schema_version.is_distinct_from(target))
        .order_by(TenantRecord.slug)
    )


async def fleet_status(engine: AsyncEngine, *, script_location: str | None = None) -> FleetStatus:
    """How many tenants exist and which are behind: one query when none is."""
    target = tenant_head(script_location)
    behind_filter = TenantRecord.schema_version.is_distinct_from(target)
    async with engine.connect() as connection:
        total, behind_count = (
            await connection.execute(
                select(func.count(), func.count().filter(behind_filter)).select_from(TenantRecord)
            )
        ).one()
        behind: list[BehindTenant] = []
        if behind_count:
            rows = await connection.execute(_behind_query(target))
            behind = [BehindTenant(i, slug, schema, v) for i, slug, schema, v in rows]
    return FleetStatus(target=target, total=int(total), behind=behind)


async def tenants_behind(
    engine: AsyncEngine, *, script_location: str | None = None
) -> list[BehindTenant]:
    return (await fleet_status(engine, script_location=script_location)).behind


@observe_duration(MIGRATION_SECONDS)
async def upgrade_tenant(
    engine: AsyncEngine, tenant: BehindTenant, target: str, script_location: str | None = None
) -> str | None:
    """Bring one schema to `target`, a revision per transaction; return the revision reached."""
    async with engine.connect() as connection:
        while True:
            async with connection.begin():
                await connection.execute(
                    select(
                        func.pg_advisory_xact_lock(_UPGRADE_LOCK_KEY, func.hashtext(tenant.schema)),
                        # Alembic looks its version table up in pg_class by name, and every
                        # tenant has one of that name: a generic plan scans them all (O(fleet)
                        # per tenant); a custom plan finds the schema first.
                        func.set_config("plan_cache_mode", "force_custom_plan", True),
                        # A data migration may rightly take longer than a request may.
                        func.set_config("statement_timeout", "0", True),
                    )
                )
                reached = await connection.scalar(
                    select(version_table(tenant.schema).c.version_num)
                )
                steps = upgrade_path(reached, target, script_location)
                if steps:
                    await connection.run_sync(
                        upgrade_tenant_sync, tenant.schema, steps[0], script_location
                    )
                    reached = steps[0]
                await connection.execute(
                    update(TenantRecord)
                    .where(TenantRecord.id == tenant.id)
                    .values(schema_version=reached)
                )
            if len(steps) <= 1:
                return reached


async def refresh_catalog_statistics(engine: AsyncEngine) -> None:
    """Best effort: fresh planner statistics for the catalogs Alembic queries once per tenant.

    Right after many tenants were created, pg_class's statistics still describe a small catalog,
    and the planner looks a version table up by name across every schema. Needs the database's
    owner (or pg_maintain); without that privilege, autovacuum catches up on its own.
    """
    try:
        async with engine.begin() as connection:
            await connection.execute(text("ANALYZE pg_catalog.pg_class, pg_catalog.pg_namespace"))
    except DBAPIError as exc:
        log.info("migration.catalog_analyze_skipped", reason=describe_error(exc))


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}".splitlines()[0][:500]


async def upgrade_tenants(
    engine: AsyncEngine,
    *,
    concurrency: int | None = None,
    on_progress: Progress | None = None,
    script_location: str | None = None,
) -> FleetReport:
    """Upgrade every tenant schema behind the head revision of the tenant tree."""
    status = await fleet_status(engine, script_location=script_location)
    report = FleetReport(target=status.target, current=status.total - len(status.behind))

    def record(tenant: BehindTenant, error: str | None) -> None:
        if error is None:
            report.upgraded.append(tenant.slug)
        else:
            report.failed[tenant.slug] = error
            log.error("migration.tenant_failed", tenant=tenant.slug, error=error)
        if on_progress is not None:
            on_progress(tenant, error)

    if len(status.behind) > 1:
        await refresh_catalog_statistics(engine)
    workers = min(max(1, concurrency or default_concurrency()), len(status.behind))
    if workers <= 1:
        for tenant in status.behind:
            try:
                await upgrade_tenant(engine, tenant, status.target, script_location)
                record(tenant, None)
            except Exception as exc:  # recorded, and the rest of the fleet goes on
                record(tenant, describe_error(exc))
    else:
        await _upgrade_in_processes(engine, status, workers, script_location, record)
    if status.behind:
        log.info("migration.fleet_done", upgraded=len(report.upgraded), current=report.current,
                 failed=len(report.failed))  # fmt: skip
    return report


async def _upgrade_in_processes(
    engine: AsyncEngine,
    status: FleetStatus,
    workers: int,
    script_location: str | None,
    record: Progress,
) -> None:
    url = engine.url.render_as_string(hide_password=False)
    loop = asyncio.get_running_loop()
    # spawn, not fork: the parent runs an event loop (and, in tests, other threads).
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=get_context("spawn"),
        initializer=worker.start,
        initargs=(url,),
    ) as pool:
        pending = [
            loop.run_in_executor(pool, worker.upgrade, tenant, status.target, script_location)
            for tenant in status.behind
        ]
        for finished in asyncio.as_completed(pending):
            tenant, error, seconds = await finished
            MIGRATION_SECONDS.observe(seconds)  # the worker's own histogram dies with it
            record(tenant, error)


async def upgrade_fleet(
    engine: AsyncEngine,
    *,
    concurrency: int | None = None,
    on_progress: Progress | None = None,
    script_location: str | None = None,
) -> FleetReport:
    """Upgrade the platform schema, make sure the platform tenant exists, then upgrade every
    tenant behind head, `concurrency` at a time."""
    await upgrade_platform(engine)
    await ensure_platform_tenant(engine)
    return await upgrade_tenants(
        engine, concurrency=concurrency, on_progress=on_progress, script_location=script_location
    )
