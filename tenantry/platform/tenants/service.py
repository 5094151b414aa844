"""Creating tenants. Services flush, never commit: the caller owns the transaction.

The rest of a tenant's life (changes, suspension, deletion) is in `lifecycle`, export and import
in `transfer`; the API and the CLI call these same functions.
"""

from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tenantry.core.database import schema_translated
from tenantry.core.email import OutgoingEmail
from tenantry.core.observability.metrics import (
    PROVISIONING_SECONDS,
    TENANT_EVENTS,
    observe_duration,
)
from tenantry.core.tenancy.context import (
    PLATFORM_TENANT_SLUG,
    Tenant,
    TenantStatus,
    schema_name_for,
)
from tenantry.platform.migrations.alembic_runner import tenant_head
from tenantry.platform.migrations.schema_script import create_tenant_schema
from tenantry.platform.tenants.domains import add_domains
from tenantry.platform.tenants.errors import SlugTaken
from tenantry.platform.tenants.models import TenantRecord
from tenantry.platform.tenants.repository import TenantRepository
from tenantry.platform.tenants.settings import validated_settings
from tenantry.platform.tenants.slugs import validate_slug
from tenantry.tenants.audit.service import AuditContext
from tenantry.tenants.auth.context import IdentityContext
from tenantry.tenants.invitations.models import Invitation
from tenantry.tenants.invitations.service import invitation_service
from tenantry.tenants.roles.repository import RoleRepository
from tenantry.tenants.roles.service import OWNER, role_service

log = structlog.get_logger(__name__)

# Called inside the provisioning transaction with a session bound to the new schema.
SeedHook = Callable[[AsyncSession, TenantRecord], Awaitable[None]]
# The identity settings of a tenant (issuer, keys, mailer...), from the app or the CLI.
IdentityFactory = Callable[[Tenant], IdentityContext]


@asynccontextmanager
async def schema_session(session: AsyncSession, schema: str) -> AsyncIterator[AsyncSession]:
    """A session on one tenant's schema that shares `session`'s connection and transaction, so
    that a change to the registry and to the tenant's data commit together or not at all."""
    connection = await session.connection()
    sync_connection = connection.sync_connection
    if sync_connection is None:
        raise RuntimeError("the session's connection is closed")
    with schema_translated(sync_connection, schema):
        tenant_session = AsyncSession(bind=connection, expire_on_commit=False)
        try:
            yield tenant_session
            await tenant_session.flush()
        finally:
            await tenant_session.close()


@dataclass(frozen=True, slots=True)
class CreatedTenant:
    record: TenantRecord
    domains: list[str]
    invitation: Invitation
    email: OutgoingEmail  # send it after the commit


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
            schema_version=tenant_head(),
            settings=dict(settings or {}),
        )
        repository.add(record)
        try:
            await session.flush()
        except IntegrityError as exc:  # a concurrent provisioning won the slug
            raise SlugTaken() from exc
        await create_tenant_schema(await session.connection(), record.schema_name)
        async with schema_session(session, record.schema_name) as tenant_session:
            await role_service.seed_builtin(
                tenant_session, platform=record.slug == PLATFORM_TENANT_SLUG
            )
            if seed is not None:
                await seed(tenant_session, record)
        TENANT_EVENTS.labels(action="provisioned").inc()
        log.info("tenant.provisioned", tenant_id=str(record.id), slug=slug)
        return record

    async def create(
        self,
        session: AsyncSession,
        identity: IdentityFactory,
        *,
        slug: str,
        display_name: str,
        admin_email: str,
        settings: Mapping[str, Any],
        domains: Sequence[str],
        base_domain: str,
        audit: AuditContext,
    ) -> CreatedTenant:
        """Provision a tenant and invite its first administrator, who becomes its owner."""
        stored_settings = validated_settings({}, settings)
        invited: list[tuple[Invitation, OutgoingEmail]] = []

        async def invite_owner(tenant_session: AsyncSession, record: TenantRecord) -> None:
            owner = await RoleRepository(tenant_session).by_name(OWNER)
            if owner is None:
                raise RuntimeError("the owner role was not seeded")
            invited.append(
                await invitation_service.invite(
                    tenant_session,
                    identity(record.to_tenant()),
                    email=admin_email,
                    role_ids=[owner.id],
                    invited_by=None,  # the system: no escalation check in the new tenant
                    audit=audit,
                )
            )

        record = await self.provision(
            session,
            slug=slug,
            display_name=display_name,
            settings=stored_settings,
            seed=invite_owner,
        )
        added = (
            await add_domains(session, record, domains, base_domain=base_domain) if domains else []
        )
        invitation, email = invited[0]
        return CreatedTenant(record, added, invitation, email)


tenant_service = TenantService()


async def ensure_platform_tenant(engine: AsyncEngine) -> bool:
    """Provision the reserved `platform` tenant, home of the operators, unless it exists.

    Part of every `db upgrade`, so "the first migration creates it" holds for every database.
    """
    try:
        async with AsyncSession(engine, expire_on_commit=False) as session, session.begin():
            if await TenantRepository(session).slug_taken(PLATFORM_TENANT_SLUG):
                return False
            await tenant_service.provision(
                session,
                slug=PLATFORM_TENANT_SLUG,
                display_name="Platform",
                allow_reserved=True,
            )
    except SlugTaken:  # a concurrent `db upgrade` created it first
        return False
    log.info("tenant.platform_created")
    return True
