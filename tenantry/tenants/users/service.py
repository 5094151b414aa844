"""Rules for a user's own account: profile, password, sessions."""

from collections.abc import Sequence
from uuid import UUID

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.clock import utcnow
from tenantry.core.security.passwords import ensure_strong_password
from tenantry.tenants.audit.actions import AuditAction, AuditOutcome, AuditTarget
from tenantry.tenants.audit.service import AuditContext, audit_service
from tenantry.tenants.auth.context import IdentityContext
from tenantry.tenants.auth.models import AuthSession
from tenantry.tenants.auth.repository import SessionRepository
from tenantry.tenants.users.errors import InvalidCurrentPassword, SessionNotFound
from tenantry.tenants.users.models import User
from tenantry.tenants.users.repository import UserRepository
from tenantry.tenants.users.schemas import ProfileUpdate

log = structlog.get_logger(__name__)


def password_context(email: str) -> list[str]:
    """Words a password must not contain: the parts of the user's own email address."""
    local, _, domain = email.lower().partition("@")
    return [local, domain.split(".")[0]] if domain else [local]


class UserService:
    async def create(
        self,
        session: AsyncSession,
        *,
        email: str,
        password_hash: str | None,
        email_verified: bool = False,
        display_name: str | None = None,
    ) -> User:
        """A new user with an already hashed password (seeding, provisioning, imports)."""
        user = User(
            email=email,
            password_hash=password_hash,
            password_changed_at=utcnow() if password_hash else None,
            email_verified=email_verified,
            display_name=display_name,
        )
        UserRepository(session).add(user)
        await session.flush()
        log.info("user.created", user_id=str(user.id))
        return user

    async def update_profile(
        self, session: AsyncSession, audit: AuditContext, user: User, update: ProfileUpdate
    ) -> User:
        changes = update.changes()
        for field, value in changes.items():
            setattr(user, field, value)
        await session.flush()
        if changes:
            # Which fields, not their values: the trail must not become a copy of personal data.
            await audit_service.record(
                session,
                audit,
                AuditAction.USER_PROFILE_UPDATED,
                target_type=AuditTarget.USER,
                target_id=user.id,
                details={"fields": sorted(changes)},
            )
        return user

    async def change_password(
        self,
        session: AsyncSession,
        ctx: IdentityContext,
        audit: AuditContext,
        user: User,
        *,
        current_password: str,
        new_password: str,
        keep_session: UUID,
    ) -> None:
        """Needs the current password; ends every other session of the user."""
        check = await ctx.hasher.verify(user.password_hash or "", current_password)
        if not check.ok:
            # Counts towards lockout, so a stolen access token cannot guess the password freely.
            await UserRepository(session).record_failed_login(user.id)
            await audit_service.record(
                session,
                audit,
                AuditAction.USER_PASSWORD_CHANGE_FAILED,
                outcome=AuditOutcome.FAILURE,
                target_type=AuditTarget.USER,
                target_id=user.id,
                details={"reason": "invalid_current_password"},
            )
            raise InvalidCurrentPassword().keeping_changes()
        await self.set_password(session, ctx, user, new_password)
        revoked = await SessionRepository(session).revoke_all(
            user.id, utcnow(), "password_changed", keep=keep_session
        )
        await audit_service.record(
            session,
            audit,
            AuditAction.USER_PASSWORD_CHANGED,
            target_type=AuditTarget.USER,
            target_id=user.id,
            details={"sessions_revoked": revoked},
        )

    async def set_password(
        self, session: AsyncSession, ctx: IdentityContext, user: User, password: str
    ) -> None:
        ensure_strong_password(
            password,
            min_length=ctx.settings.password_min_length,
            check_common=ctx.settings.password_check_common,
            context=password_context(user.email),
        )
        user.password_hash = await ctx.hasher.hash(password)
        user.password_changed_at = utcnow()
        user.failed_login_count = 0
        user.locked_until = None
        await session.flush()

    async def sessions(self, session: AsyncSession, user: User) -> Sequence[AuthSession]:
        return await SessionRepository(session).list_active(user.id, utcnow())

    async def end_session(
        self, session: AsyncSession, audit: AuditContext, user: User, session_id: UUID
    ) -> None:
        sessions = SessionRepository(session)
        found = await sessions.get(session_id)
        # Another user's session id answers exactly like an unknown one.
        if found is None or found.user_id != user.id or found.revoked_at is not None:
            raise SessionNotFound()
        await sessions.revoke(session_id, utcnow(), "user_revoked")
        await audit_service.record(
            session,
            audit,
            AuditAction.SESSION_REVOKED,
            target_type=AuditTarget.SESSION,
            target_id=session_id,
            details={"reason": "user_revoked", "user_id": str(user.id)},
        )


user_service = UserService()
