"""Self-service flows: sign-up, email verification, password reset.

Each returns the emails to send; the router sends them after the transaction commits, so a mail
server outage never loses a change, and asking again sends a fresh link.
"""

from datetime import timedelta
from uuid import UUID

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.clock import utcnow
from tenantry.core.email import OutgoingEmail
from tenantry.core.security.opaque import digest_of, new_opaque_token
from tenantry.core.security.passwords import ensure_strong_password
from tenantry.core.tenancy.settings import SignupMode
from tenantry.tenants.accounts import messages
from tenantry.tenants.accounts.errors import (
    EmailDomainNotAllowed,
    InvalidOneTimeToken,
    SignupClosed,
    SignupInviteOnly,
)
from tenantry.tenants.accounts.schemas import Registration
from tenantry.tenants.audit.actions import AuditAction, AuditTarget
from tenantry.tenants.audit.service import AuditContext, audit_service
from tenantry.tenants.auth.context import IdentityContext
from tenantry.tenants.auth.models import TokenPurpose
from tenantry.tenants.auth.repository import OneTimeTokenRepository, SessionRepository
from tenantry.tenants.users.models import User
from tenantry.tenants.users.repository import UserRepository
from tenantry.tenants.users.service import password_context, user_service

log = structlog.get_logger(__name__)


class AccountService:
    async def register(
        self, session: AsyncSession, ctx: IdentityContext, audit: AuditContext, body: Registration
    ) -> list[OutgoingEmail]:
        """Create an unverified user, or tell the existing owner of the address; same answer."""
        self._check_signup_allowed(ctx, body.email)
        ensure_strong_password(
            body.password,
            min_length=ctx.settings.password_min_length,
            check_common=ctx.settings.password_check_common,
            context=password_context(body.email),
        )
        # Hash before looking the address up, so both branches cost the same. Anyone may ask for
        # this hash, so it waits for a turn like a login, and a flood of sign-ups is shed.
        async with ctx.hasher.turn():
            password_hash = await ctx.hasher.hash(body.password)
        users = UserRepository(session)
        if await users.get_by_email(body.email) is not None:
            log.info("account.register_existing")
            return [messages.already_registered_email(ctx, body.email)]
        user = User(email=body.email, password_hash=password_hash, display_name=body.display_name)
        user.password_changed_at = utcnow()
        users.add(user)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError:  # the same address registered concurrently
            return [messages.already_registered_email(ctx, body.email)]
        log.info("account.registered", user_id=str(user.id))
        await self._audit(session, audit.as_user(user.id), AuditAction.USER_REGISTERED, user)
        return [await self._verification(session, ctx, user)]

    async def resend_verification(
        self, session: AsyncSession, ctx: IdentityContext, user: User
    ) -> list[OutgoingEmail]:
        if user.email_verified:
            return []
        return [await self._verification(session, ctx, user)]

    async def verify_email(self, session: AsyncSession, audit: AuditContext, token: str) -> UUID:
        user = await self._consume(session, token, TokenPurpose.VERIFY_EMAIL)
        user.email_verified = True
        log.info("account.email_verified", user_id=str(user.id))
        # The emailed link proves the mailbox, which is as much identity as this flow has.
        await self._audit(session, audit.as_user(user.id), AuditAction.USER_EMAIL_VERIFIED, user)
        return user.id

    async def request_password_reset(
        self, session: AsyncSession, ctx: IdentityContext, audit: AuditContext, email: str
    ) -> list[OutgoingEmail]:
        """Send a reset link when the address has an active account; answer the same regardless."""
        user = await UserRepository(session).get_by_email(email)
        if user is None or not user.is_active:
            # Not audited: the typed address may be anything, and no account is concerned.
            log.info("account.reset_requested_unknown")
            return []
        tokens = OneTimeTokenRepository(session)
        now = utcnow()
        await tokens.retire_all(user.id, TokenPurpose.RESET_PASSWORD, now)
        issued = new_opaque_token()
        expires = now + timedelta(minutes=ctx.settings.password_reset_minutes)
        tokens.add(user.id, TokenPurpose.RESET_PASSWORD, issued.digest, expires)
        log.info("account.reset_requested", user_id=str(user.id))
        # Anyone may ask for anyone's reset: the actor stays anonymous, the account is the target.
        await self._audit(session, audit, AuditAction.USER_PASSWORD_RESET_REQUESTED, user)
        return [messages.reset_email(ctx, user.email, issued.value)]

    async def confirm_password_reset(
        self,
        session: AsyncSession,
        ctx: IdentityContext,
        audit: AuditContext,
        token: str,
        new_password: str,
    ) -> None:
        """Set the new password and end every session; the link proves the mailbox, too."""
        user = await self._consume(session, token, TokenPurpose.RESET_PASSWORD)
        await user_service.set_password(session, ctx, user, new_password)
        user.email_verified = True
        revoked = await SessionRepository(session).revoke_all(user.id, utcnow(), "password_reset")
        log.info("account.password_reset", user_id=str(user.id), sessions_revoked=revoked)
        await self._audit(
            session,
            audit.as_user(user.id),
            AuditAction.USER_PASSWORD_RESET,
            user,
            details={"sessions_revoked": revoked},
        )

    async def _audit(
        self,
        session: AsyncSession,
        audit: AuditContext,
        action: AuditAction,
        user: User,
        *,
        details: dict[str, object] | None = None,
    ) -> None:
        await audit_service.record(
            session, audit, action, target_type=AuditTarget.USER, target_id=user.id, details=details
        )

    def _check_signup_allowed(self, ctx: IdentityContext, email: str) -> None:
        if ctx.settings.signup is SignupMode.CLOSED:
            raise SignupClosed()
        if ctx.settings.signup is SignupMode.INVITE_ONLY:
            raise SignupInviteOnly()
        allowed = {domain.lower() for domain in ctx.settings.signup_allowed_domains}
        if allowed and email.rpartition("@")[2].lower() not in allowed:
            raise EmailDomainNotAllowed()

    async def _verification(
        self, session: AsyncSession, ctx: IdentityContext, user: User
    ) -> OutgoingEmail:
        tokens = OneTimeTokenRepository(session)
        now = utcnow()
        await tokens.retire_all(user.id, TokenPurpose.VERIFY_EMAIL, now)
        issued = new_opaque_token()
        expires = now + timedelta(hours=ctx.settings.email_verification_hours)
        tokens.add(user.id, TokenPurpose.VERIFY_EMAIL, issued.digest, expires)
        return messages.verification_email(ctx, user.email, issued.value)

    async def _consume(self, session: AsyncSession, token: str, purpose: TokenPurpose) -> User:
        user_id = await OneTimeTokenRepository(session).consume(digest_of(token), purpose, utcnow())
        user = await UserRepository(session).get(user_id) if user_id else None
        if user is None:
            raise InvalidOneTimeToken()
        return user


account_service = AccountService()
