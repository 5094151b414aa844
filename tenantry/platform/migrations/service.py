"""Fleet migrations: the platform schema first, then every tenant schema that is behind.

Each tenant migrates in its own transaction and records its revision in the registry, so a failure
leaves that tenant at its last good revision and the others upgraded; a rerun picks up where it
stopped. Whether anything is behind is one query over the registry, however many tenants exist.
"""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from uuid import UUID

import structlog
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tenantry.core.migrations import Tree, head_revision
from tenantry.core.observability.metrics import MIGRATION_SECONDS, observe_duration
from tenantry.platform.migrations.alembic_runner import (
    tenant_revision_sync,
    upgrade_platform_sync,
    upgrade_tenant_sync,
)
from tenantry.platform.tenants.models import TenantRecord

log = structlog.get_logger(__name__)

# Serialises concurrent `db upgrade` runs (two deploys at once) on one database.
_UPGRADE_LOCK_KEY = 0x7E4A47


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


async def upgrade_platform(engine: AsyncEngine) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            text("SELECT pg_advisory_xact_lock(:key)"), {"key": _UPGRADE_LOCK_KEY}
        )
        await connection.run_sync(upgrade_platform_sync)


async def tenants_behind(engine: AsyncEngine) -> list[BehindTenant]:
    target = head_revision(Tree.TENANT)
    async with engine.connect() as connection:
        rows = await connection.execute(
            select(
                TenantRecord.id,
                TenantRecord.slug,
                TenantRecord.schema_name,
                TenantRecord.schema_version,
            )
            .where(TenantRecord.schema_version.is_distinct_from(target))
            .order_by(TenantRecord.slug)
        )
        return [BehindTenant(*row) for row in rows]


@observe_duration(MIGRATION_SECONDS)
async def upgrade_tenant(engine: AsyncEngine, tenant: BehindTenant, target: str) -> None:
    async with engine.begin() as connection:
        await connection.run_sync(upgrade_tenant_sync, tenant.schema, target)
        reached = await connection.run_sync(tenant_revision_sync, tenant.schema)
        await connection.execute(
            update(TenantRecord).where(TenantRecord.id == tenant.id).values(schema_version=reached)
        )


async def upgrade_fleet(
    engine: AsyncEngine,
    *,
    concurrency: int = 4,
    on_progress: Callable[[BehindTenant, str | None], None] | None = None,
) -> FleetReport:
    """Upgrade the platform schema, then every tenant behind head, `concurrency` at a time."""
    await upgrade_platform(engine)
    target = head_revision(Tree.TENANT)
    behind = await tenants_behind(engine)
    report = FleetReport(target=target)
    async with engine.connect() as connection:
        total = await connection.scalar(select(func.count()).select_from(TenantRecord))
    report.current = int(total or 0) - len(behind)
    gate = asyncio.Semaphore(max(1, concurrency))

    async def one(tenant: BehindTenant) -> None:
        async with gate:
            error: str | None = None
            try:
                await upgrade_tenant(engine, tenant, target)
                report.upgraded.append(tenant.slug)
            except Exception as exc:  # recorded, and the rest of the fleet goes on
                error = f"{type(exc).__name__}: {exc}".splitlines()[0][:500]
                report.failed[tenant.slug] = error
                log.error("migration.tenant_failed", tenant=tenant.slug, error=error)
            if on_progress is not None:
                on_progress(tenant, error)

    await asyncio.gather(*(one(tenant) for tenant in behind))
    log.info("migration.fleet_done", upgraded=len(report.upgraded), current=report.current,
             failed=len(report.failed))  # fmt: skip
    return report
