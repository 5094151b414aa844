"""Export a tenant as one JSON document, and import such a document into any Tenantry.

The document holds the tenant's users, roles (custom ones with their permissions), role
assignments, settings and domains. Password hashes are left out unless asked for: with them the
file is a credential dump and must be handled like one; without them, imported users set a new
password through the reset flow. Sessions, tokens, invitations and the audit trail stay behind:
they belong to the installation that issued them. Ids are kept, so references survive the move.
"""

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

import structlog
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.clock import utcnow
from tenantry.core.observability.metrics import TENANT_EVENTS
from tenantry.platform.tenants.domains import add_domains
from tenantry.platform.tenants.errors import InvalidExport
from tenantry.platform.tenants.lifecycle import tenant_lifecycle
from tenantry.platform.tenants.models import TenantRecord
from tenantry.platform.tenants.repository import TenantDataRepository
from tenantry.platform.tenants.service import schema_session, tenant_service
from tenantry.platform.tenants.settings import validated_settings
from tenantry.tenants.roles.models import Role, UserRole
from tenantry.tenants.roles.repository import AssignmentRepository, RoleRepository
from tenantry.tenants.roles.service import assignable_permissions
from tenantry.tenants.users.models import User, UserStatus

log = structlog.get_logger(__name__)


class ExportedTenant(BaseModel):
    slug: str
    display_name: str
    settings: dict[str, Any] = Field(default_factory=dict)
    domains: list[str] = Field(default_factory=list)


class ExportedRole(BaseModel):
    id: UUID
    name: str
    description: str | None = None
    builtin: bool
    permissions: list[str] = Field(default_factory=list, description="Custom roles only.")


class ExportedUser(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    email: str = Field(max_length=320)  # as stored: an export must never refuse existing data
    email_verified: bool
    status: UserStatus
    password_hash: str | None = None
    password_changed_at: datetime | None = None
    display_name: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    avatar_url: str | None = None
    locale: str | None = None
    time_zone: str | None = None
    bio: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime | None = None


class ExportedAssignment(BaseModel):
    user_id: UUID
    role_id: UUID


class TenantExport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    format: Literal["tenantry.tenant-export"] = "tenantry.tenant-export"
    version: Literal[1] = 1
    exported_at: datetime
    password_hashes: bool
    tenant: ExportedTenant
    roles: list[ExportedRole]
    users: list[ExportedUser]
    assignments: list[ExportedAssignment]


async def export_tenant(
    session: AsyncSession, tenant_id: UUID, *, include_password_hashes: bool = False
) -> TenantExport:
    record = await tenant_lifecycle.get(session, tenant_id)
    domains = await tenant_lifecycle.domains(session, record)
    async with schema_session(session, record.schema_name) as tenant_session:
        roles = await RoleRepository(tenant_session).all()
        grants = await RoleRepository(tenant_session).permissions()
        assignments = await AssignmentRepository(tenant_session).all()
        users = await TenantDataRepository(tenant_session).users()
    exported_users = [ExportedUser.model_validate(user) for user in users]
    if not include_password_hashes:
        exported_users = [
            user.model_copy(update={"password_hash": None}) for user in exported_users
        ]
    document = TenantExport(
        exported_at=utcnow(),
        password_hashes=include_password_hashes,
        tenant=ExportedTenant(
            slug=record.slug,
            display_name=record.display_name,
            settings=dict(record.settings or {}),
            domains=domains,
        ),
        roles=[
            ExportedRole(
                id=role.id,
                name=role.name,
                description=role.description,
                builtin=role.builtin,
                permissions=[] if role.builtin else sorted(grants.get(role.id, ())),
            )
            for role in roles
        ],
        users=exported_users,
        assignments=[ExportedAssignment(user_id=u, role_id=r) for u, r in assignments],
    )
    TENANT_EVENTS.labels(action="exported").inc()
    # A warning when hashes leave the database: worth noticing in any log review.
    (log.warning if include_password_hashes else log.info)(
        "tenant.exported", tenant_id=str(record.id), slug=record.slug, users=len(users),
        password_hashes=include_password_hashes,
    )  # fmt: skip
    return document


async def import_tenant(
    session: AsyncSession,
    document: TenantExport,
    *,
    slug: str | None = None,
    base_domain: str,
    with_domains: bool = True,
) -> TenantRecord:
    """Provision a tenant from an export; `slug` overrides the exported one."""
    settings = validated_settings({}, document.tenant.settings, loc=("body", "tenant", "settings"))
    user_ids = {user.id for user in document.users}
    role_ids = {role.id for role in document.roles}
    for assignment in document.assignments:
        if assignment.user_id not in user_ids or assignment.role_id not in role_ids:
            raise InvalidExport("an assignment names a user or role the document does not hold")

    async def seed(tenant_session: AsyncSession, record: TenantRecord) -> None:
        role_map = await _import_roles(tenant_session, document.roles)
        for user in document.users:
            fields = user.model_dump(exclude={"created_at", "status"})
            if user.created_at is not None:
                fields["created_at"] = user.created_at
            tenant_session.add(User(**fields, status=user.status.value))
        await tenant_session.flush()
        rows = [
            {"user_id": a.user_id, "role_id": role_map[a.role_id]} for a in document.assignments
        ]
        if rows:
            await tenant_session.execute(insert(UserRole), rows)

    record = await tenant_service.provision(
        session,
        slug=slug or document.tenant.slug,
        display_name=document.tenant.display_name,
        settings=settings,
        seed=seed,
    )
    if with_domains and document.tenant.domains:
        await add_domains(
            session, record, document.tenant.domains, base_domain=base_domain,
            loc=("body", "tenant", "domains"),
        )  # fmt: skip
    TENANT_EVENTS.labels(action="imported").inc()
    log.info("tenant.imported", tenant_id=str(record.id), slug=record.slug,
             users=len(document.users), roles=len(document.roles))  # fmt: skip
    return record


async def _import_roles(session: AsyncSession, roles: list[ExportedRole]) -> dict[UUID, UUID]:
    """Built-in roles map by name onto the new tenant's own; custom roles keep their ids."""
    repository = RoleRepository(session)
    seeded = {role.name: role.id for role in await repository.all() if role.builtin}
    allowed = assignable_permissions()
    mapping: dict[UUID, UUID] = {}
    for role in roles:
        if role.builtin:
            if role.name not in seeded:
                raise InvalidExport(f"no built-in role {role.name!r} in a tenant")
            mapping[role.id] = seeded[role.name]
            continue
        unknown = set(role.permissions) - allowed
        if unknown:
            raise InvalidExport(f"role {role.name!r} holds unknown permissions {sorted(unknown)}")
        repository.add(Role(id=role.id, name=role.name, description=role.description))
        mapping[role.id] = role.id
    await session.flush()
    for role in roles:
        if not role.builtin:
            await repository.set_permissions(role.id, role.permissions)
    return mapping
