"""Every query on the tenant registry."""

from uuid import UUID

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.database import Database
from tenantry.core.tenancy.context import Tenant
from tenantry.platform.tenants.models import TenantDomain, TenantRecord


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: UUID) -> TenantRecord | None:
        return await self.session.get(TenantRecord, tenant_id)

    async def get_by_slug(self, slug: str) -> TenantRecord | None:
        return await self.session.scalar(select(TenantRecord).where(TenantRecord.slug == slug))

    async def get_by_domain(self, hostname: str) -> TenantRecord | None:
        return await self.session.scalar(
            select(TenantRecord)
            .join(TenantDomain, TenantDomain.tenant_id == TenantRecord.id)
            .where(TenantDomain.hostname == hostname)
        )

    async def slug_taken(self, slug: str) -> bool:
        found = await self.session.scalar(select(TenantRecord.id).where(TenantRecord.slug == slug))
        return found is not None

    def add(self, record: TenantRecord) -> None:
        self.session.add(record)

    async def count_by_status(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(TenantRecord.status, func.count()).group_by(TenantRecord.status)
        )
        return dict(rows.all())


class RegistryTenantSource:
    """The `TenantSource` the request path uses: one short read-only session per look-up."""

    def __init__(self, database: Database) -> None:
        self.database = database

    async def by_slug(self, slug: str) -> Tenant | None:
        async with self.database.platform_session() as session:
            record = await TenantRepository(session).get_by_slug(slug)
            return record.to_tenant() if record else None

    async def by_domain(self, hostname: str) -> Tenant | None:
        async with self.database.platform_session() as session:
            record = await TenantRepository(session).get_by_domain(hostname)
            return record.to_tenant() if record else None

    async def count_by_status(self) -> dict[str, int]:
        """Tenants per status, for the `tenantry_tenants` gauge."""
        async with self.database.platform_session() as session:
            return await TenantRepository(session).count_by_status()
