"""Invitations: /api/v1/invitations. Accepting one is public: the token is the credential."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Query, status

from tenantry.core.api import API_V1, TENANT_ERRORS, error_responses
from tenantry.core.dependencies import TenantSession
from tenantry.tenants.accounts.router import deliver
from tenantry.tenants.audit.service import Audit
from tenantry.tenants.auth.context import Identity
from tenantry.tenants.invitations.schemas import (
    InvitationAccept,
    InvitationCreate,
    InvitationPage,
    InvitationRead,
)
from tenantry.tenants.invitations.service import invitation_service
from tenantry.tenants.roles.dependencies import Authorize, Policy
from tenantry.tenants.user_admin.cursor import MAX_CURSOR_LENGTH
from tenantry.tenants.users.models import User
from tenantry.tenants.users.schemas import UserRead

router = APIRouter(prefix=f"{API_V1}/invitations", tags=["invitations"], responses=TENANT_ERRORS)
INVITER_ERRORS = error_responses(401)

Inviter = Annotated[User, Authorize("invitations:manage")]


@router.post(
    "", response_model=InvitationRead, status_code=status.HTTP_201_CREATED, responses=INVITER_ERRORS
)
async def invite(
    user: Inviter,  # first: nothing is loaded for an unauthenticated caller
    session: TenantSession,
    ctx: Identity,
    policy: Policy,
    body: InvitationCreate,
    audit: Audit,
    background: BackgroundTasks,
) -> InvitationRead:
    """Invite an email address with roles the caller could grant; the link is emailed."""
    invitation, email = await invitation_service.invite(
        session,
        ctx,
        email=body.email,
        role_ids=body.role_ids,
        invited_by=user.id,
        audit=audit.as_user(user.id),
        policy=policy,
    )
    background.add_task(deliver, ctx.mailer, [email])
    return InvitationRead.model_validate(invitation)


@router.get("", response_model=InvitationPage, responses=INVITER_ERRORS)
async def list_pending(
    session: TenantSession,
    user: Inviter,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_LENGTH)] = None,
) -> InvitationPage:
    """Invitations neither accepted, revoked nor expired, newest first."""
    del user
    page = await invitation_service.pending(session, limit=limit, cursor=cursor)
    return InvitationPage(
        items=[InvitationRead.model_validate(item) for item in page.items],
        next_cursor=page.next_cursor,
    )


@router.delete("/{invitation_id}", status_code=status.HTTP_204_NO_CONTENT, responses=INVITER_ERRORS)
async def revoke(session: TenantSession, user: Inviter, invitation_id: UUID, audit: Audit) -> None:
    """Revoke an open invitation: its link stops working."""
    await invitation_service.revoke(session, invitation_id, audit=audit.as_user(user.id))


@router.post("/{invitation_id}/resend", response_model=InvitationRead, responses=INVITER_ERRORS)
async def resend(
    user: Inviter,  # first: nothing is loaded for an unauthenticated caller
    session: TenantSession,
    ctx: Identity,
    policy: Policy,
    invitation_id: UUID,
    audit: Audit,
    background: BackgroundTasks,
) -> InvitationRead:
    """Email a new link with a renewed expiry; the previous link stops working."""
    invitation, email = await invitation_service.resend(
        session, ctx, policy, invitation_id, actor=user, audit=audit.as_user(user.id)
    )
    background.add_task(deliver, ctx.mailer, [email])
    return InvitationRead.model_validate(invitation)


@router.post("/accept", response_model=UserRead, status_code=status.HTTP_201_CREATED)
async def accept(
    session: TenantSession, ctx: Identity, policy: Policy, body: InvitationAccept, audit: Audit
) -> UserRead:
    """Accept an invitation: choose a password; the account is created with the invited roles."""
    user = await invitation_service.accept(
        session,
        ctx,
        policy,
        token=body.token,
        password=body.password,
        display_name=body.display_name,
        audit=audit,
    )
    return UserRead.model_validate(user)
