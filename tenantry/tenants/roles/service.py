"""Roles: the built-ins every tenant has, custom roles, and who may grant what."""

from collections.abc import Iterable, Sequence
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.authz.cache import PolicyLoader
from tenantry.core.authz.policy import TenantPolicy, builtin_policy, role_subject, user_subject
from tenantry.core.database import Database
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.roles.errors import (
    BuiltinRoleImmutable,
    LastOwner,
    RoleEscalation,
    RoleInUse,
    RoleNameTaken,
    RoleNotFound,
    SelfRoleChange,
    UnknownPermission,
)
from tenantry.tenants.roles.models import Role
from tenantry.tenants.roles.repository import AssignmentRepository, RoleRepository
from tenantry.tenants.users.models import User

log = structlog.get_logger(__name__)

TENANT_ROLES = ("owner", "admin", "manager", "member")
PLATFORM_ROLES = ("operator",)
OWNER = "owner"


def assignable_permissions() -> frozenset[str]:
    """What custom roles may hold: the vocabulary, less the control plane's own permissions."""
    return frozenset(p for p in builtin_policy().permissions if not p.startswith("platform:"))


def _check_permissions(permissions: Iterable[str]) -> set[str]:
    wanted = set(permissions)
    unknown = wanted - assignable_permissions()
    if unknown:
        raise UnknownPermission(sorted(unknown))
    return wanted


class RoleService:
    async def seed_builtin(self, session: AsyncSession, *, platform: bool = False) -> None:
        """The built-in roles of a new tenant (the reserved platform tenant also gets operator)."""
        names = TENANT_ROLES + (PLATFORM_ROLES if platform else ())
        repository = RoleRepository(session)
        for name in names:
            repository.add(Role(name=name, builtin=True))
        await session.flush()

    async def load_policy(self, session: AsyncSession, tenant: Tenant) -> TenantPolicy:
        roles = {role.id: role for role in await RoleRepository(session).all()}
        grants = [
            (role_subject(roles[role_id].key), permission)
            for role_id, permissions in (await RoleRepository(session).permissions()).items()
            if role_id in roles and not roles[role_id].builtin
            for permission in permissions
        ]
        assignments = [
            (user_subject(user_id), role_subject(roles[role_id].key))
            for user_id, role_id in await AssignmentRepository(session).all()
            if role_id in roles
        ]
        return TenantPolicy(str(tenant.id), grants=grants, assignments=assignments)

    async def roles(self, session: AsyncSession) -> Sequence[Role]:
        return await RoleRepository(session).all()

    async def get(self, session: AsyncSession, role_id: UUID) -> Role:
        role = await RoleRepository(session).get(role_id)
        if role is None:
            raise RoleNotFound()
        return role

    async def permissions_of(self, session: AsyncSession, role: Role) -> set[str]:
        if role.builtin:
            subject = role_subject(role.key)
            return {p for s, p in builtin_policy().grants if s == subject}
        return await RoleRepository(session).permissions_of(role.id)

    async def create(
        self,
        session: AsyncSession,
        policy: TenantPolicy,
        *,
        actor: User,
        name: str,
        description: str | None,
        permissions: Iterable[str],
    ) -> Role:
        """A custom role, from permissions the actor holds (else they could mint a role above
        themselves and have someone else grant it)."""
        repository = RoleRepository(session)
        wanted = _check_permissions(permissions)
        self._ensure_held(policy, actor, wanted)
        await self._ensure_name_free(repository, name)
        role = Role(name=name, description=description, builtin=False)
        repository.add(role)
        await session.flush()
        await repository.set_permissions(role.id, wanted)
        return role

    async def update(
        self,
        session: AsyncSession,
        policy: TenantPolicy,
        role_id: UUID,
        *,
        actor: User,
        name: str | None = None,
        description: str | None = None,
        permissions: Iterable[str] | None = None,
    ) -> Role:
        repository = RoleRepository(session)
        role = await self._custom(repository, role_id)
        # Changing a role changes what its holders may do: only within the actor's own reach.
        self._ensure_held(policy, actor, policy.permissions_of(role_subject(role.key)))
        if name is not None and name.lower() != role.name.lower():
            await self._ensure_name_free(repository, name)
        if name is not None:
            role.name = name
        if description is not None:
            role.description = description
        if permissions is not None:
            wanted = _check_permissions(permissions)
            self._ensure_held(policy, actor, wanted)
            await repository.set_permissions(role.id, wanted)
        await session.flush()
        return role

    async def delete(
        self,
        session: AsyncSession,
        policy: TenantPolicy,
        role_id: UUID,
        *,
        actor: User,
        reassign_to: UUID | None = None,
    ) -> None:
        repository = RoleRepository(session)
        role = await self._custom(repository, role_id)
        held = policy.permissions_of(user_subject(actor.id))
        # Checked even when nobody holds the role: a target from another tenant (or none at all)
        # must not pass, nor end up in the audit trail as where the holders went.
        target = None if reassign_to is None else await repository.get(reassign_to)
        if reassign_to is not None and (reassign_to == role.id or target is None):
            raise RoleNotFound("The role to reassign holders to does not exist.")
        if await repository.holders_count(role.id):
            if reassign_to is None or target is None:
                raise RoleInUse()
            # Reassigning grants the target role to every holder: the same rule as granting.
            if not self._grantable(policy, role, held) or not self._grantable(policy, target, held):
                raise RoleEscalation()
            await repository.reassign(role.id, reassign_to)
        await repository.delete(role.id)

    async def roles_of(self, session: AsyncSession, user_id: UUID) -> Sequence[Role]:
        return await AssignmentRepository(session).roles_of(user_id)

    async def grant_builtin(self, session: AsyncSession, user: User, name: str) -> None:
        """Give a user a built-in role as the system does (first owner, seeded admins)."""
        role = await RoleRepository(session).by_name(name)
        if role is None or not role.builtin:
            raise RoleNotFound(f"No built-in role {name!r}.")
        current = {r.id for r in await AssignmentRepository(session).roles_of(user.id)}
        await AssignmentRepository(session).replace(user.id, current | {role.id}, None)
        await session.flush()

    async def set_user_roles(
        self,
        session: AsyncSession,
        policy: TenantPolicy,
        *,
        actor: User | None,
        target: User,
        role_ids: Iterable[UUID],
    ) -> Sequence[Role]:
        """Replace `target`'s roles. `actor` None means the system (provisioning, invitations
        accepted); a person may not change their own roles, nor grant or revoke a role that holds
        a permission they lack, nor remove the last active owner."""
        wanted_ids = set(role_ids)
        wanted = await RoleRepository(session).get_many(wanted_ids)
        if len(wanted) != len(wanted_ids):
            raise RoleNotFound()
        assignments = AssignmentRepository(session)
        current = await assignments.roles_of(target.id)
        changed = {r.id: r for r in wanted}.keys() ^ {r.id: r for r in current}.keys()
        if actor is not None:
            if actor.id == target.id:
                raise SelfRoleChange()
            held = policy.permissions_of(user_subject(actor.id))
            for role in (*wanted, *current):
                if role.id in changed and not self._grantable(policy, role, held):
                    raise RoleEscalation()
        losing_owner = any(r.name == OWNER and r.builtin for r in current) and not any(
            r.name == OWNER and r.builtin for r in wanted
        )
        if losing_owner:
            owner = next(r for r in current if r.name == OWNER and r.builtin)
            if await assignments.active_holders_except(owner.id, target.id) == 0:
                raise LastOwner()
        await assignments.replace(target.id, wanted_ids, actor.id if actor else None)
        await session.flush()
        log.info(
            "user.roles_changed",
            user_id=str(target.id),
            roles=sorted(r.name for r in wanted),
            actor_id=str(actor.id) if actor else None,
        )
        return wanted

    def _grantable(self, policy: TenantPolicy, role: Role, held: frozenset[str]) -> bool:
        return policy.permissions_of(role_subject(role.key)) <= held

    def _ensure_held(self, policy: TenantPolicy, actor: User, permissions: Iterable[str]) -> None:
        if not set(permissions) <= policy.permissions_of(user_subject(actor.id)):
            raise RoleEscalation()

    async def _custom(self, repository: RoleRepository, role_id: UUID) -> Role:
        role = await repository.get(role_id)
        if role is None:
            raise RoleNotFound()
        if role.builtin:
            raise BuiltinRoleImmutable()
        return role

    async def _ensure_name_free(self, repository: RoleRepository, name: str) -> None:
        if await repository.by_name(name) is not None or name.lower() in builtin_policy().roles:
            raise RoleNameTaken()


role_service = RoleService()


def policy_loader(database: Database) -> PolicyLoader:
    """How the enforcer cache builds a tenant's enforcer: one short read of its schema."""

    async def load(tenant: Tenant, session: AsyncSession | None) -> TenantPolicy:
        if session is not None:
            return await role_service.load_policy(session, tenant)
        async with database.tenant_session(tenant.schema) as own:
            return await role_service.load_policy(own, tenant)

    return load
