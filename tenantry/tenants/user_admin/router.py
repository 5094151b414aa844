"""User administration: /api/v1/users (the caller's own account is /api/v1/users/me)."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Depends, Query, Response, status

from tenantry.core.api import API_V1, AUTHENTICATED_ERRORS
from tenantry.core.dependencies import TenantSession
from tenantry.tenants.accounts.router import deliver
from tenantry.tenants.audit.service import Audit
from tenantry.tenants.auth.context import Identity
from tenantry.tenants.invitations.schemas import InvitationRead
from tenantry.tenants.roles.dependencies import Authorize, Policy
from tenantry.tenants.user_admin.cursor import MAX_CURSOR_LENGTH
from tenantry.tenants.user_admin.guards import AdminAction
from tenantry.tenants.user_admin.repository import UserFilter
from tenantry.tenants.user_admin.schemas import (
    RoleAssignment,
    RoleRef,
    SessionsRevoked,
    SortKey,
    SortOrder,
    UserAdminRead,
    UserAdminUpdate,
    UserCreate,
    UserPage,
)
from tenantry.tenants.user_admin.service import user_admin_service
from tenantry.tenants.users.models import User, UserStatus

router = APIRouter(prefix=f"{API_V1}/users", tags=["users"], responses=AUTHENTICATED_ERRORS)

Reader = Annotated[User, Authorize("users:read")]


def acting(permission: str) -> object:
    """A dependency giving an `AdminAction` by a caller who holds `permission`."""

    # The actor first: FastAPI resolves parameters in order, and nothing (the tenant's policy
    # included) should be loaded for a caller who is not authenticated.
    async def action(
        actor: Annotated[User, Authorize(permission)],
        session: TenantSession,
        policy: Policy,
        audit: Audit,
    ) -> AdminAction:
        return AdminAction(session, policy, actor, audit.as_user(actor.id))

    return Depends(action)


Writer = Annotated[AdminAction, acting("users:write")]
Locker = Annotated[AdminAction, acting("users:lock")]
Deleter = Annotated[AdminAction, acting("users:delete")]
SessionManager = Annotated[AdminAction, acting("sessions:manage")]


async def _read(session: TenantSession, user: User) -> UserAdminRead:
    return UserAdminRead.of(user, await user_admin_service.roles_of(session, user.id))


@router.get("", response_model=UserPage)
async def list_users(
    session: TenantSession,
    caller: Reader,
    status_: Annotated[UserStatus | None, Query(alias="status")] = None,
    role: Annotated[UUID | None, Query(description="Only holders of this role id.")] = None,
    q: Annotated[str | None, Query(max_length=200, description="In email or names.")] = None,
    sort: SortKey = SortKey.CREATED_AT,
    order: SortOrder = SortOrder.ASC,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)] = None,
) -> UserPage:
    """The organization's users, filtered and sorted, a page at a time (follow `next_cursor`)."""
    del caller
    filters = UserFilter(status=status_.value if status_ else None, role_id=role, q=q)
    page = await user_admin_service.page(
        session, filters, sort=sort, order=order, limit=limit, cursor=cursor
    )
    return UserPage(
        items=[UserAdminRead.of(user, roles) for user, roles in page.items],
        next_cursor=page.next_cursor,
    )


@router.post(
    "",
    response_model=UserAdminRead | InvitationRead,
    status_code=status.HTTP_201_CREATED,
    responses={202: {"model": InvitationRead, "description": "No password: invitation sent."}},
)
async def create_user(
    act: Writer, ctx: Identity, body: UserCreate, response: Response, background: BackgroundTasks
) -> UserAdminRead | InvitationRead:
    """Create a user with a password (201), or without one invite them instead (202)."""
    created = await user_admin_service.create(act, ctx, body)
    if created.invitation is not None and created.email is not None:
        background.add_task(deliver, ctx.mailer, [created.email])
        response.status_code = status.HTTP_202_ACCEPTED
        return InvitationRead.model_validate(created.invitation)
    if created.user is None:
        raise RuntimeError("user_admin_service.create returned neither a user nor an invitation")
    return await _read(act.session, created.user)


@router.get("/{user_id}", response_model=UserAdminRead)
async def read_user(session: TenantSession, caller: Reader, user_id: UUID) -> UserAdminRead:
    """One user, with their roles."""
    del caller
    return await _read(session, await user_admin_service.get(session, user_id))


@router.patch("/{user_id}", response_model=UserAdminRead)
async def update_user(act: Writer, user_id: UUID, body: UserAdminUpdate) -> UserAdminRead:
    """Change profile fields or the email address (a new address is unverified)."""
    return await _read(act.session, await user_admin_service.update(act, user_id, body))


@router.post("/{user_id}/disable", response_model=UserAdminRead)
async def disable_user(act: Locker, user_id: UUID) -> UserAdminRead:
    """Disable the account and end its sessions."""
    return await _read(act.session, await user_admin_service.disable(act, user_id))


@router.post("/{user_id}/enable", response_model=UserAdminRead)
async def enable_user(act: Locker, user_id: UUID) -> UserAdminRead:
    """Enable a disabled account."""
    return await _read(act.session, await user_admin_service.enable(act, user_id))


@router.post("/{user_id}/lock", response_model=UserAdminRead)
async def lock_user(act: Locker, user_id: UUID) -> UserAdminRead:
    """Lock the account until unlocked, and end its sessions."""
    return await _read(act.session, await user_admin_service.lock(act, user_id))


@router.post("/{user_id}/unlock", response_model=UserAdminRead)
async def unlock_user(act: Locker, user_id: UUID) -> UserAdminRead:
    """Lift a lock, including the automatic one after failed logins."""
    return await _read(act.session, await user_admin_service.unlock(act, user_id))


@router.delete("/{user_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_user(act: Deleter, user_id: UUID) -> None:
    """Delete the user for good, with their sessions and role assignments."""
    await user_admin_service.delete(act, user_id)


@router.post("/{user_id}/logout", response_model=SessionsRevoked)
async def force_logout(act: SessionManager, user_id: UUID) -> SessionsRevoked:
    """End every session of the user (force logout)."""
    count = await user_admin_service.revoke_sessions(act, user_id)
    return SessionsRevoked(revoked_sessions=count)


@router.get("/{user_id}/roles", response_model=list[RoleRef])
async def read_user_roles(session: TenantSession, caller: Reader, user_id: UUID) -> list[RoleRef]:
    """The user's roles."""
    del caller
    user = await user_admin_service.get(session, user_id)
    roles = await user_admin_service.roles_of(session, user.id)
    return [RoleRef.model_validate(role) for role in roles]


@router.put("/{user_id}/roles", response_model=list[RoleRef])
async def set_user_roles(act: Writer, user_id: UUID, body: RoleAssignment) -> list[RoleRef]:
    """Replace the user's roles; only roles whose permissions the caller holds can change."""
    roles = await user_admin_service.set_roles(act, user_id, body.role_ids)
    return [RoleRef.model_validate(role) for role in roles]
