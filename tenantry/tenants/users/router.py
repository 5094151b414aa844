"""The caller's own account: /api/v1/users/me."""

from uuid import UUID

from fastapi import APIRouter, status

from tenantry.core.api import API_V1, AUTHENTICATED_ERRORS
from tenantry.core.dependencies import TenantSession
from tenantry.tenants.audit.service import Audit
from tenantry.tenants.auth.context import Identity
from tenantry.tenants.auth.dependencies import CurrentClaims
from tenantry.tenants.roles.dependencies import SelfService
from tenantry.tenants.users.schemas import PasswordChange, ProfileUpdate, SessionRead, UserRead
from tenantry.tenants.users.service import user_service

router = APIRouter(prefix=f"{API_V1}/users/me", tags=["me"], responses=AUTHENTICATED_ERRORS)


@router.get("", response_model=UserRead)
async def read_me(user: SelfService) -> UserRead:
    """The caller's profile."""
    return UserRead.model_validate(user)


@router.patch("", response_model=UserRead)
async def update_me(
    session: TenantSession, audit: Audit, user: SelfService, update: ProfileUpdate
) -> UserRead:
    """Change the caller's profile; omitted fields stay as they are."""
    updated = await user_service.update_profile(session, audit.as_user(user.id), user, update)
    return UserRead.model_validate(updated)


@router.post("/password", status_code=status.HTTP_204_NO_CONTENT)
async def change_password(
    session: TenantSession,
    ctx: Identity,
    audit: Audit,
    user: SelfService,
    claims: CurrentClaims,
    body: PasswordChange,
) -> None:
    """Change the password (the current one is required); other sessions end."""
    await user_service.change_password(
        session,
        ctx,
        audit.as_user(user.id),
        user,
        current_password=body.current_password,
        new_password=body.new_password,
        keep_session=UUID(claims.sid),
    )


@router.get("/sessions", response_model=list[SessionRead])
async def list_sessions(
    session: TenantSession, user: SelfService, claims: CurrentClaims
) -> list[SessionRead]:
    """The caller's live sessions, most recently used first."""
    current = UUID(claims.sid)
    return [
        SessionRead.model_validate(found).model_copy(update={"current": found.id == current})
        for found in await user_service.sessions(session, user)
    ]


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
async def end_session(
    session: TenantSession, audit: Audit, user: SelfService, session_id: UUID
) -> None:
    """End one of the caller's sessions."""
    await user_service.end_session(session, audit.as_user(user.id), user, session_id)
