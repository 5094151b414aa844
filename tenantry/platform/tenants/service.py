"""Tenant lifecycle rules. Services flush, never commit: the caller owns the transaction."""

from collections.abc import Awaitable, Callable, Mapping
from typing import Any
from uuid import uuid4

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.schema import CreateSchema

from tenantry.core.database import schema_translated
from tenantry.core.migrations import Tree, head_revision
from tenantry.core.observability.metrics import (
    PROVISIONING_SECONDS,
    TENANT_EVENTS,
    observe_duration,
)
from tenantry.core.tenancy.context import PLATFORM_TENANT_SLUG, TenantStatus, schema_name_for
from tenantry.platform.migrations.alembic_runner import create_tenant_tables_sync
from tenantry.platform.tenants.errors import SlugTaken
from tenantry.platform.tenants.models import TenantRecord
from tenantry.platform.tenants.repository import TenantRepository
from tenantry.platform.tenants.slugs import validate_slug
from tenantry.tenants.roles.service import role_service

log = structlog.get_logger(__name__)

# Called inside the provisioning transaction with a session bound to the new schema.
SeedHook = Callable[[AsyncSession, TenantRecord], Awaitable[None]]


class TenantService:
    @observe_duration(PROVISIONING_SECONDS)
    async def provision(
        self,
        session: AsyncSession,
        *,
        slug: str,
        display_name: str,
        settings: Mapping[str, Any] | None = None,
        seed: SeedHook | None = None,
        allow_reserved: bool = False,
    ) -> TenantRecord:
        """Create a tenant whole, or not at all: registry row, schema, tables at head, seed data.

        Postgres DDL is transactional, so a failure at any step rolls back the row and the schema.
        """
        validate_slug(slug, allow_reserved=allow_reserved)
        repository = TenantRepository(session)
        if await repository.slug_taken(slug):
            raise SlugTaken()
        tenant_id = uuid4()
        record = TenantRecord(
            id=tenant_id,
            slug=slug,
            display_name=display_name,
            status=TenantStatus.ACTIVE.value,
            schema_name=schema_name_for(tenant_id),
            schema_version=head_revision(Tree.TENANT),
            settings=dict(settings or {}),
        )
        repository.add(record)
        try:
            await session.flush()
        except IntegrityError as exc:  # a concurrent provisioning won the slug
            raise SlugTaken() from exc
        connection = await session.connection()
        sync_connection = connection.sync_connection
        if sync_connection is None:
            raise RuntimeError("the provisioning connection is closed")
        await connection.execute(CreateSchema(record.schema_name))
        await connection.run_sync(create_tenant_tables_sync, record.schema_name)
        with schema_translated(sync_connection, record.schema_name):
            # The seed session joins this transaction through the same connection.
            tenant_session = AsyncSession(bind=connection, expire_on_commit=False)
            await role_service.seed_builtin(
                tenant_session, platform=record.slug == PLATFORM_TENANT_SLUG
            )
            if seed is not None:
                await seed(tenant_session, record)
        TENANT_EVENTS.labels(action="provisioned").inc()
        log.info("tenant.provisioned", tenant_id=str(record.id), slug=slug)
        return record


tenant_service = TenantService()
