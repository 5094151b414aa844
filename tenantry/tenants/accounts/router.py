"""Sign-up, email verification and password reset: /api/v1/auth/..."""

from collections.abc import Sequence

import structlog
from fastapi import APIRouter, BackgroundTasks, status

from tenantry.core.api import API_V1, PASSWORD_WORK_ERRORS, TENANT_ERRORS, error_responses
from tenantry.core.dependencies import TenantSession
from tenantry.core.email import EmailDeliveryFailed, Mailer, OutgoingEmail
from tenantry.tenants.accounts.schemas import (
    Accepted,
    EmailVerification,
    PasswordResetConfirm,
    PasswordResetRequest,
    Registration,
)
from tenantry.tenants.accounts.service import account_service
from tenantry.tenants.audit.service import Audit
from tenantry.tenants.auth.context import Identity
from tenantry.tenants.roles.dependencies import SelfService

router = APIRouter(prefix=f"{API_V1}/auth", tags=["accounts"], responses=TENANT_ERRORS)
log = structlog.get_logger(__name__)


async def deliver(mailer: Mailer, emails: Sequence[OutgoingEmail]) -> None:
    """Runs after the response, hence after the commit: a failed send loses no change."""
    for email in emails:
        try:
            await mailer.send(email)
        except EmailDeliveryFailed as exc:
            log.error("email.delivery_failed", subject=email.subject, error=str(exc))


@router.post(
    "/register",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=PASSWORD_WORK_ERRORS,
)
async def register(
    session: TenantSession,
    ctx: Identity,
    audit: Audit,
    body: Registration,
    background: BackgroundTasks,
) -> Accepted:
    """Sign up, when the organization allows it; a confirmation link is emailed."""
    emails = await account_service.register(session, ctx, audit, body)
    background.add_task(deliver, ctx.mailer, emails)
    return Accepted(detail="Check your inbox for a confirmation link.")


@router.post("/verify-email", response_model=Accepted)
async def verify_email(session: TenantSession, audit: Audit, body: EmailVerification) -> Accepted:
    """Confirm an email address with the token from the emailed link."""
    await account_service.verify_email(session, audit, body.token)
    return Accepted(status="verified", detail="Your email address is confirmed.")


@router.post(
    "/verify-email/resend",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=Accepted,
    responses=error_responses(401),
)
async def resend_verification(
    session: TenantSession, ctx: Identity, user: SelfService, background: BackgroundTasks
) -> Accepted:
    """Email a new confirmation link to the caller; older links stop working."""
    emails = await account_service.resend_verification(session, ctx, user)
    background.add_task(deliver, ctx.mailer, emails)
    return Accepted(detail="If your address is not confirmed yet, a new link is on its way.")


@router.post("/password-reset", status_code=status.HTTP_202_ACCEPTED, response_model=Accepted)
async def request_password_reset(
    session: TenantSession,
    ctx: Identity,
    audit: Audit,
    body: PasswordResetRequest,
    background: BackgroundTasks,
) -> Accepted:
    """Email a reset link when the address has an account; the answer is the same either way."""
    emails = await account_service.request_password_reset(session, ctx, audit, body.email)
    background.add_task(deliver, ctx.mailer, emails)
    return Accepted(detail="If the address has an account, a reset link is on its way.")


@router.post("/password-reset/confirm", response_model=Accepted)
async def confirm_password_reset(
    session: TenantSession, ctx: Identity, audit: Audit, body: PasswordResetConfirm
) -> Accepted:
    """Set a new password with the emailed token; every session of the account ends."""
    await account_service.confirm_password_reset(session, ctx, audit, body.token, body.new_password)
    return Accepted(status="password_reset", detail="Your password is changed. Sign in again.")
