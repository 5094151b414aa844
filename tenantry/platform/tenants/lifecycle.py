"""A tenant's life after provisioning: changes, suspension, two-step deletion.

Every change to the registry fires the NOTIFY trigger of platform migration 0001, so each
replica's tenant cache forgets the tenant at once: a suspension, a rename or a new domain is seen
everywhere without waiting for a TTL. Each action locks the tenant's row first, so two operators
acting at once are serialised rather than interleaved.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from uuid import UUID

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import DropSchema

from tenantry.core.clock import utcnow
from tenantry.core.database import count_schema_change
from tenantry.core.observability.metrics import TENANT_EVENTS
from tenantry.core.tenancy.context import PLATFORM_TENANT_SLUG, TenantStatus
from tenantry.platform.tenants.domains import add_domains, check_hostname
from tenantry.platform.tenants.errors import (
    PlatformTenantProtected,
    PurgeRefused,
    SlugTaken,
    TenantStatusConflict,
    UnknownTenant,
)
from tenantry.platform.tenants.models import TenantRecord
from tenantry.platform.tenants.repository import TenantDataRepository, TenantRepository
from tenantry.platform.tenants.schemas import TenantQuery, TenantUpdate
from tenantry.platform.tenants.service import schema_session
from tenantry.platform.tenants.settings import validated_settings
from tenantry.platform.tenants.slugs import validate_slug
from tenantry.tenants.audit.actions import AuditAction, AuditTarget
from tenantry.tenants.audit.service import AuditContext, audit_service
from tenantry.tenants.user_admin.cursor import decode_cursor, encode_cursor

log = structlog.get_logger(__name__)

CURSOR_KIND = "platform-tenants"


@dataclass(frozen=True, slots=True)
class TenantPage:
    items: Sequence[TenantRecord]
    domains: dict[UUID, list[str]]
    next_cursor: str | None


def _event(action: str, record: TenantRecord, **fields: object) -> None:
    TENANT_EVENTS.labels(action=action).inc()
    log.info(f"tenant.{action}", tenant_id=str(record.id), slug=record.slug, **fields)


def _protect_platform(record: TenantRecord) -> None:
    if record.slug == PLATFORM_TENANT_SLUG:
        raise PlatformTenantProtected()


class TenantLifecycle:
    async def get(
        self, session: AsyncSession, tenant_id: UUID, *, lock: bool = False
    ) -> TenantRecord:
        repository = TenantRepository(session)
        record = await (repository.get_for_update(tenant_id) if lock else repository.get(tenant_id))
        if record is None:
            raise UnknownTenant()
        return record

    async def get_by_slug(self, session: AsyncSession, slug: str) -> TenantRecord:
        record = await TenantRepository(session).get_by_slug(slug.strip().lower())
        if record is None:
            raise UnknownTenant(f"No tenant with the slug {slug!r}.")
        return record

    async def domains(self, session: AsyncSession, record: TenantRecord) -> list[str]:
        return (await TenantRepository(session).domains_of([record.id]))[record.id]

    async def user_count(self, session: AsyncSession, record: TenantRecord) -> int:
        async with schema_session(session, record.schema_name) as tenant_session:
            return await TenantDataRepository(tenant_session).count_users()

    async def page(self, session: AsyncSession, query: TenantQuery) -> TenantPage:
        after = decode_cursor(query.cursor, CURSOR_KIND, 1)[0] if query.cursor else None
        repository = TenantRepository(session)
        rows = await repository.page(
            status=query.status.value if query.status else None,
            text=query.q,
            after_slug=after,
            limit=query.limit + 1,  # one more than asked tells whether another page exists
        )
        items = rows[: query.limit]
        more = len(rows) > query.limit
        cursor = encode_cursor(CURSOR_KIND, [items[-1].slug]) if more and items else None
        domains = await repository.domains_of([record.id for record in items])
        return TenantPage(items, domains, cursor)

    async def update(
        self,
        session: AsyncSession,
        tenant_id: UUID,
        changes: TenantUpdate,
        *,
        base_domain: str,
        audit: AuditContext,
    ) -> TenantRecord:
        """Display name, slug (the schema keeps its name), domains and settings, all or none."""
        record = await self.get(session, tenant_id, lock=True)
        if record.status == TenantStatus.DELETING.value:
            raise TenantStatusConflict(record.status, "changed")
        if changes.display_name is not None:
            record.display_name = changes.display_name
        if changes.slug is not None and changes.slug != record.slug:
            await self._rename(session, record, changes.slug)
        if changes.remove_domains:
            names = [
                check_hostname(
                    name, base_domain=base_domain, loc=["body", "remove_domains", str(i)]
                )
                for i, name in enumerate(changes.remove_domains)
            ]
            await TenantRepository(session).remove_domains(record.id, names)
        if changes.add_domains:
            await add_domains(
                session, record, changes.add_domains, base_domain=base_domain,
                loc=("body", "add_domains"),
            )  # fmt: skip
        if changes.settings is not None:
            await self._change_settings(session, record, changes.settings, audit)
        await self._save(session, record)
        _event("updated", record, fields=sorted(changes.model_dump(exclude_unset=True)))
        return record

    async def _rename(self, session: AsyncSession, record: TenantRecord, slug: str) -> None:
        _protect_platform(record)
        validate_slug(slug)
        if await TenantRepository(session).slug_taken(slug):
            raise SlugTaken()
        previous, record.slug = record.slug, slug
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:  # a concurrent creation or rename took it
            raise SlugTaken() from exc
        _event("renamed", record, previous_slug=previous)

    async def _change_settings(
        self,
        session: AsyncSession,
        record: TenantRecord,
        changes: dict[str, object],
        audit: AuditContext,
    ) -> None:
        record.settings = validated_settings(record.settings or {}, changes)
        async with schema_session(session, record.schema_name) as tenant_session:
            await audit_service.record(
                tenant_session, audit, AuditAction.TENANT_SETTINGS_CHANGED,
                target_type=AuditTarget.TENANT, target_id=record.id,
                details={"changed": sorted(changes)},
            )  # fmt: skip

    async def suspend(self, session: AsyncSession, tenant_id: UUID) -> TenantRecord:
        """Refuse the tenant's requests (403 tenant_suspended) and end every session in it."""
        record = await self.get(session, tenant_id, lock=True)
        _protect_platform(record)
        if record.status != TenantStatus.ACTIVE.value:
            raise TenantStatusConflict(record.status, "suspended")
        record.status = TenantStatus.SUSPENDED.value
        revoked = await self._end_sessions(session, record, "tenant_suspended")
        await self._save(session, record)
        _event("suspended", record, sessions_revoked=revoked)
        return record

    async def resume(self, session: AsyncSession, tenant_id: UUID) -> TenantRecord:
        """Serve a suspended tenant again, or cancel a deletion still in its grace period."""
        record = await self.get(session, tenant_id, lock=True)
        if record.status == TenantStatus.ACTIVE.value:
            raise TenantStatusConflict(record.status, "resumed")
        record.status = TenantStatus.ACTIVE.value
        record.purge_after = None
        await self._save(session, record)
        _event("reactivated", record)
        return record

    async def schedule_deletion(
        self, session: AsyncSession, tenant_id: UUID, *, grace: timedelta
    ) -> TenantRecord:
        """Step one of two: the tenant stops answering (410) and may be purged after `grace`."""
        record = await self.get(session, tenant_id, lock=True)
        _protect_platform(record)
        if record.status == TenantStatus.DELETING.value:
            raise TenantStatusConflict(record.status, "deleted again")
        record.status = TenantStatus.DELETING.value
        record.purge_after = utcnow() + grace
        revoked = await self._end_sessions(session, record, "tenant_deleted")
        await self._save(session, record)
        _event("deletion_scheduled", record, purge_after=record.purge_after.isoformat(),
               sessions_revoked=revoked)  # fmt: skip
        return record

    async def purge(
        self, session: AsyncSession, tenant_id: UUID, *, force: bool = False
    ) -> TenantRecord:
        """Step two: drop the schema and the registry row. Only a tenant marked for deletion;
        before the end of its grace period only with `force`."""
        record = await self.get(session, tenant_id, lock=True)
        _protect_platform(record)
        if record.status != TenantStatus.DELETING.value or record.purge_after is None:
            raise PurgeRefused("Only a tenant marked for deletion can be purged; delete it first.")
        now = utcnow()
        if record.purge_after > now and not force:
            raise PurgeRefused(
                f"The grace period ends at {record.purge_after.isoformat()}; "
                "purge with force to skip it."
            )
        connection = await session.connection()
        # The name comes from the tenant's id (tenant_<hex>), never from input.
        await connection.execute(DropSchema(record.schema_name, cascade=True))
        await count_schema_change(connection)
        await TenantRepository(session).delete(record.id)
        await session.flush()
        _event(
            "deleted", record, schema=record.schema_name, forced=force and record.purge_after > now
        )
        return record

    async def _save(self, session: AsyncSession, record: TenantRecord) -> None:
        await session.flush()
        await session.refresh(record)  # updated_at is set by the database

    async def _end_sessions(self, session: AsyncSession, record: TenantRecord, reason: str) -> int:
        async with schema_session(session, record.schema_name) as tenant_session:
            return await TenantDataRepository(tenant_session).revoke_all_sessions(utcnow(), reason)


tenant_lifecycle = TenantLifecycle()
