"""The rules that protect accounts from the people administering them.

- nobody locks, disables or deletes themselves (nor changes their own roles: the role service);
- to act on a user you must hold every permission they hold, else a manager could change an
  admin's email address and take the account over with a password reset, or an admin lock the
  owners out;
- the last active owner cannot be locked, disabled, deleted or demoted.
"""

from dataclasses import dataclass
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.authz.policy import TenantPolicy, user_subject
from tenantry.core.errors import TenantryError
from tenantry.tenants.audit.actions import AuditAction, AuditOutcome, AuditTarget
from tenantry.tenants.audit.service import AuditContext, audit_service
from tenantry.tenants.roles.errors import LastOwner
from tenantry.tenants.roles.models import Role
from tenantry.tenants.roles.repository import AssignmentRepository, RoleRepository
from tenantry.tenants.roles.service import OWNER, role_service
from tenantry.tenants.user_admin.errors import Outranked, SelfAction, UserNotFound
from tenantry.tenants.user_admin.repository import UserAdminRepository
from tenantry.tenants.users.models import User
from tenantry.tenants.users.repository import UserRepository


@dataclass(frozen=True, slots=True)
class AdminAction:
    """What every administrative change needs: the transaction, the tenant's policy, who acts
    (already authorized for the route's permission) and how to record it."""

    session: AsyncSession
    policy: TenantPolicy
    actor: User
    audit: AuditContext


async def get_user(session: AsyncSession, user_id: UUID) -> User:
    user = await UserRepository(session).get(user_id)
    if user is None:
        raise UserNotFound()
    return user


async def target(act: AdminAction, user_id: UUID) -> User:
    """The user to act on, when the actor outranks or equals them."""
    user = await get_user(act.session, user_id)
    ensure_outranks(act, user)
    return user


async def guarded_target(act: AdminAction, user_id: UUID, action: AuditAction) -> User:
    """The target of a lock, disable or delete, after every rule. A refusal is audited; nothing
    has been written yet, so keeping the request's changes keeps just that event."""
    user = await get_user(act.session, user_id)
    try:
        if user.id == act.actor.id:
            raise SelfAction()
        await ensure_not_last_owner(act.session, user)
        ensure_outranks(act, user)
    except (SelfAction, LastOwner, Outranked) as exc:
        raise await refused(act, action, user.id, exc) from None
    return user


async def refused(
    act: AdminAction, action: AuditAction, user_id: UUID, error: TenantryError
) -> TenantryError:
    """Record the refusal of `action` and return `error`, marked to keep that record."""
    await audit_service.record(
        act.session,
        act.audit,
        action,
        outcome=AuditOutcome.DENIED,
        target_type=AuditTarget.USER,
        target_id=user_id,
        details={"reason": error.code},
    )
    return error.keeping_changes()


def ensure_outranks(act: AdminAction, user: User) -> None:
    if act.actor.id == user.id:
        return
    held = act.policy.permissions_of(user_subject(act.actor.id))
    if not act.policy.permissions_of(user_subject(user.id)) <= held:
        raise Outranked()


async def lock_owner_role(session: AsyncSession) -> Role | None:
    """Take the owner role's row lock, which every last-owner check in this package holds."""
    owner = await RoleRepository(session).by_name(OWNER)
    if owner is None or not owner.builtin:
        return None
    await UserAdminRepository(session).lock_role(owner.id)
    return owner


async def ensure_not_last_owner(session: AsyncSession, user: User) -> None:
    owner = await lock_owner_role(session)
    if owner is None:
        return
    if owner.id not in {role.id for role in await role_service.roles_of(session, user.id)}:
        return
    if await AssignmentRepository(session).active_holders_except(owner.id, user.id) == 0:
        raise LastOwner()
