"""Every query on the tenant registry, and the few the control plane makes inside a tenant's
schema (on a session bound to it)."""

from collections.abc import Iterable, Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.database import Database
from tenantry.core.tenancy.context import Tenant
from tenantry.platform.tenants.models import TenantDomain, TenantRecord
from tenantry.tenants.auth.models import AuthSession
from tenantry.tenants.users.models import User


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class TenantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, tenant_id: UUID) -> TenantRecord | None:
        return await self.session.get(TenantRecord, tenant_id)

    async def get_for_update(self, tenant_id: UUID) -> TenantRecord | None:
        """The row, locked until the transaction ends: lifecycle changes do not interleave."""
        return await self.session.scalar(
            select(TenantRecord)
            .where(TenantRecord.id == tenant_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )

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

    async def delete(self, tenant_id: UUID) -> None:
        await self.session.execute(delete(TenantRecord).where(TenantRecord.id == tenant_id))

    async def page(
        self, *, status: str | None, text: str | None, after_slug: str | None, limit: int
    ) -> Sequence[TenantRecord]:
        """Tenants by slug (the keyset: unique and indexed), filtered by status and by text
        found in the slug or the display name."""
        query = select(TenantRecord).order_by(TenantRecord.slug).limit(limit)
        if status is not None:
            query = query.where(TenantRecord.status == status)
        if text:
            pattern = _like_pattern(text)
            query = query.where(
                or_(TenantRecord.slug.ilike(pattern), TenantRecord.display_name.ilike(pattern))
            )
        if after_slug is not None:
            query = query.where(TenantRecord.slug > after_slug)
        return (await self.session.scalars(query)).all()

    async def count_by_status(self) -> dict[str, int]:
        rows = await self.session.execute(
            select(TenantRecord.status, func.count()).group_by(TenantRecord.status)
        )
        return dict(rows.all())

    async def domains_of(self, tenant_ids: Iterable[UUID]) -> dict[UUID, list[str]]:
        ids = list(tenant_ids)
        rows = await self.session.execute(
            select(TenantDomain.tenant_id, TenantDomain.hostname)
            .where(TenantDomain.tenant_id.in_(ids))
            .order_by(TenantDomain.hostname)
        )
        found: dict[UUID, list[str]] = {tenant_id: [] for tenant_id in ids}
        for tenant_id, hostname in rows:
            found[tenant_id].append(hostname)
        return found

    async def domain_owner(self, hostname: str) -> UUID | None:
        return await self.session.scalar(
            select(TenantDomain.tenant_id).where(TenantDomain.hostname == hostname)
        )

    def add_domain(self, tenant_id: UUID, hostname: str) -> None:
        self.session.add(TenantDomain(hostname=hostname, tenant_id=tenant_id))

    async def remove_domains(self, tenant_id: UUID, hostnames: Iterable[str]) -> None:
        await self.session.execute(
            delete(TenantDomain).where(
                TenantDomain.tenant_id == tenant_id, TenantDomain.hostname.in_(list(hostnames))
            )
        )


class TenantDataRepository:
    """Queries the control plane makes in one tenant's schema; the session is bound to it."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def count_users(self) -> int:
        return int(await self.session.scalar(select(func.count()).select_from(User)) or 0)

    async def users(self) -> Sequence[User]:
        return (await self.session.scalars(select(User).order_by(User.created_at, User.id))).all()

    async def revoke_all_sessions(self, now: datetime, reason: str) -> int:
        result = await self.session.execute(
            update(AuthSession)
            .where(AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
            .returning(AuthSession.id)
        )
        return len(result.all())


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
