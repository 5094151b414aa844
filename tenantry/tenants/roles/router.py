"""Custom roles: /api/v1/roles."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Query, status

from tenantry.core.api import API_V1, AUTHENTICATED_ERRORS
from tenantry.core.dependencies import TenantSession
from tenantry.tenants.audit.service import Audit, audit_service
from tenantry.tenants.roles.dependencies import Authorize, Policy
from tenantry.tenants.roles.models import Role
from tenantry.tenants.roles.schemas import RoleCreate, RoleRead, RoleUpdate
from tenantry.tenants.roles.service import role_service
from tenantry.tenants.users.models import User

router = APIRouter(prefix=f"{API_V1}/roles", tags=["roles"], responses=AUTHENTICATED_ERRORS)

Reader = Annotated[User, Authorize("roles:read")]
Manager = Annotated[User, Authorize("roles:manage")]


async def _read(session: TenantSession, role: Role) -> RoleRead:
    permissions = await role_service.permissions_of(session, role)
    return RoleRead(
        id=role.id,
        name=role.name,
        description=role.description,
        builtin=role.builtin,
        permissions=sorted(permissions),
        created_at=role.created_at,
        updated_at=role.updated_at,
    )


@router.get("", response_model=list[RoleRead])
async def list_roles(session: TenantSession, user: Reader) -> list[RoleRead]:
    """Built-in and custom roles with their permissions."""
    del user
    return [await _read(session, role) for role in await role_service.roles(session)]


@router.post("", response_model=RoleRead, status_code=status.HTTP_201_CREATED)
async def create_role(
    session: TenantSession, user: Manager, policy: Policy, body: RoleCreate, audit: Audit
) -> RoleRead:
    """Create a custom role from permissions the caller holds."""
    role = await role_service.create(
        session, policy, actor=user, name=body.name, description=body.description,
        permissions=body.permissions,
    )  # fmt: skip
    await audit_service.record(
        session, audit.as_user(user.id), "role.created", target_type="role", target_id=role.id,
        details={"name": role.name, "permissions": sorted(body.permissions)},
    )  # fmt: skip
    return await _read(session, role)


@router.get("/{role_id}", response_model=RoleRead)
async def read_role(session: TenantSession, user: Reader, role_id: UUID) -> RoleRead:
    """One role with its permissions."""
    del user
    return await _read(session, await role_service.get(session, role_id))


@router.patch("/{role_id}", response_model=RoleRead)
async def update_role(
    session: TenantSession,
    user: Manager,
    policy: Policy,
    role_id: UUID,
    body: RoleUpdate,
    audit: Audit,
) -> RoleRead:
    """Rename a custom role or change its description or permissions."""
    role = await role_service.update(
        session, policy, role_id, actor=user, name=body.name, description=body.description,
        permissions=body.permissions,
    )  # fmt: skip
    await audit_service.record(
        session, audit.as_user(user.id), "role.updated", target_type="role", target_id=role.id,
        details=body.model_dump(exclude_unset=True),
    )  # fmt: skip
    return await _read(session, role)


@router.delete("/{role_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_role(
    session: TenantSession,
    user: Manager,
    policy: Policy,
    role_id: UUID,
    audit: Audit,
    reassign_to: Annotated[
        UUID | None, Query(description="Role that takes over its holders")
    ] = None,
) -> None:
    """Delete a custom role; refused while assigned unless `reassign_to` names a role."""
    await role_service.delete(session, policy, role_id, actor=user, reassign_to=reassign_to)
    await audit_service.record(
        session, audit.as_user(user.id), "role.deleted", target_type="role", target_id=role_id,
        details={"reassigned_to": str(reassign_to) if reassign_to else None},
    )  # fmt: skip
