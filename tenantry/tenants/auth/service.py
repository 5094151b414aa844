"""Login, refresh-token rotation with reuse detection, revocation and logout."""

from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.clock import utcnow
from tenantry.core.observability.metrics import LOCKOUTS, LOGINS, REFRESH_REUSE, TOKENS_ISSUED
from tenantry.core.security.opaque import digest_of, new_opaque_token
from tenantry.core.security.passwords import PasswordCheck, PasswordChecksBusy
from tenantry.core.security.tokens import InvalidToken, issue_access_token, verify_access_token
from tenantry.tenants.audit.actions import AuditAction, AuditOutcome, AuditTarget
from tenantry.tenants.audit.service import AuditContext, audit_service
from tenantry.tenants.auth.context import ClientInfo, IdentityContext
from tenantry.tenants.auth.models import AuthSession
from tenantry.tenants.auth.oauth import InvalidGrant, InvalidScope
from tenantry.tenants.auth.repository import (
    LoginRepository,
    RefreshTokenRepository,
    SessionRepository,
)
from tenantry.tenants.users.models import User
from tenantry.tenants.users.repository import UserRepository

log = structlog.get_logger(__name__)

SUPPORTED_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
DEFAULT_SCOPE = "openid profile email"


@dataclass(frozen=True, slots=True)
class IssuedTokens:
    access_token: str
    expires_in: int
    refresh_token: str
    scope: str
    session_id: UUID


def resolve_scope(requested: str | None) -> str:
    if not requested or not requested.strip():
        return DEFAULT_SCOPE
    scopes = requested.split()
    if not set(scopes) <= SUPPORTED_SCOPES:
        raise InvalidScope()
    return " ".join(dict.fromkeys(scopes))


class AuthService:
    async def password_grant(
        self,
        session: AsyncSession,
        ctx: IdentityContext,
        audit: AuditContext,
        *,
        email: str,
        password: str,
        scope: str | None,
        client: ClientInfo,
    ) -> IssuedTokens:
        """Resource-owner password grant. Every failure gives the same `invalid_grant`.

        Failures keep the request's changes so that their audit rows survive the error. Before
        the password check (unknown user, locked) and after it (disabled) the audit row is the
        only write, so committing cannot keep anything half-done.
        """
        granted_scope = resolve_scope(scope)
        try:
            # Before the first query: logins queueing for the hasher hold no connection.
            async with ctx.hasher.turn():
                user, check = await self._check_password(session, ctx, audit, email, password)
        except PasswordChecksBusy:
            self._count_failed_login("busy", ctx)
            raise
        now = utcnow()
        tokens = await self._open_session(
            session, ctx, audit, user, granted_scope, client, now, check.new_hash
        )
        LOGINS.labels(outcome="success", tenant=self._tenant_label(ctx)).inc()
        TOKENS_ISSUED.labels(grant="password").inc()
        return tokens

    async def refresh_grant(
        self,
        session: AsyncSession,
        ctx: IdentityContext,
        audit: AuditContext,
        *,
        refresh_token: str,
        scope: str | None,
    ) -> IssuedTokens:
        """Rotate a refresh token. A used token presented again revokes its whole session."""
        granted_scope = resolve_scope(scope)
        now = utcnow()
        digest = digest_of(refresh_token)
        refresh = RefreshTokenRepository(session)
        sessions = SessionRepository(session)
        session_id = await refresh.consume(digest, now)
        if session_id is None:
            replayed = await refresh.session_of(digest)
            if replayed is None:
                raise InvalidGrant()
            # OWASP ASVS 5.0 10.4.5: a replay means the token leaked; end the family.
            await sessions.revoke(replayed, now, "refresh_reuse")
            REFRESH_REUSE.inc()
            log.warning("auth.refresh_reuse_detected", session_id=str(replayed))
            # The presenter may be the thief or the victim: the actor stays anonymous.
            await self._audit_session(
                session,
                audit,
                AuditAction.SESSION_REUSE_DETECTED,
                replayed,
                outcome=AuditOutcome.FAILURE,
                reason="refresh_reuse",
            )
            raise InvalidGrant().keeping_changes()
        auth_session = await sessions.get(session_id)
        user = await UserRepository(session).get(auth_session.user_id) if auth_session else None
        if (
            auth_session is None
            or user is None
            or not _alive(auth_session, now)
            or not user.is_active
        ):
            raise InvalidGrant()
        auth_session.last_used_at = now
        auth_session.idle_expires_at = min(
            now + timedelta(minutes=ctx.settings.session_idle_minutes), auth_session.expires_at
        )
        issued = new_opaque_token()
        await refresh.add(auth_session.id, issued.digest)
        access_token, expires_in = self._access_token(ctx, user, auth_session.id, granted_scope)
        TOKENS_ISSUED.labels(grant="refresh_token").inc()
        return IssuedTokens(access_token, expires_in, issued.value, granted_scope, auth_session.id)

    async def revoke_token(
        self, session: AsyncSession, ctx: IdentityContext, audit: AuditContext, token: str
    ) -> None:
        """RFC 7009: end the session behind a refresh or access token; unknown tokens are fine."""
        now = utcnow()
        sessions = SessionRepository(session)
        session_id = await RefreshTokenRepository(session).session_of(digest_of(token))
        if session_id is None:
            try:
                claims = verify_access_token(
                    ctx.keys, token, issuer=ctx.issuer, audience=ctx.audience,
                    tenant_id=str(ctx.tenant.id),
                )  # fmt: skip
            except InvalidToken:
                return
            session_id = UUID(claims.sid)
        if await sessions.revoke(session_id, now, "revoked"):
            log.info("auth.token_revoked", session_id=str(session_id))
            # Holding one of the session's tokens is what RFC 7009 asks of the revoker, so the
            # session's user is the actor.
            owner = await sessions.get(session_id)
            actor = audit.as_user(owner.user_id) if owner is not None else audit
            await self._audit_session(
                session, actor, AuditAction.SESSION_REVOKED, session_id, reason="revoked"
            )

    async def logout(
        self, session: AsyncSession, audit: AuditContext, user_id: UUID, session_id: UUID
    ) -> None:
        await SessionRepository(session).revoke(session_id, utcnow(), "logout")
        await audit_service.record(
            session,
            audit,
            AuditAction.USER_LOGGED_OUT,
            target_type=AuditTarget.USER,
            target_id=user_id,
            details={"session_id": str(session_id)},
        )

    async def logout_everywhere(
        self, session: AsyncSession, audit: AuditContext, user_id: UUID
    ) -> int:
        count = await SessionRepository(session).revoke_all(user_id, utcnow(), "logout_all")
        await audit_service.record(
            session,
            audit,
            AuditAction.USER_LOGGED_OUT_EVERYWHERE,
            target_type=AuditTarget.USER,
            target_id=user_id,
            details={"sessions_revoked": count},
        )
        return count

    async def _check_password(
        self,
        session: AsyncSession,
        ctx: IdentityContext,
        audit: AuditContext,
        email: str,
        password: str,
    ) -> tuple[User, PasswordCheck]:
        """The user whose password this is, or `InvalidGrant` after the work of a real check."""
        users = UserRepository(session)
        user = await users.get_by_email(email) if email else None
        now = utcnow()
        if user is None or user.password_hash is None:
            # Same work as a real check, so timing does not tell unknown users apart.
            await ctx.hasher.verify_dummy(password)
            self._count_failed_login("invalid_credentials", ctx)
            # Never the typed identifier: people type passwords into the username field.
            reason = "unknown_user" if user is None else "no_password"
            await self._audit_login_failed(session, audit, reason, user)
            raise InvalidGrant().keeping_changes()
        if user.locked_until is not None and user.locked_until > now:
            await ctx.hasher.verify_dummy(password)
            self._count_failed_login("locked", ctx)
            await self._audit_login_failed(session, audit, "locked", user)
            raise InvalidGrant().keeping_changes()
        check = await ctx.hasher.verify(user.password_hash, password)
        if not check.ok:
            await self._count_failure(session, ctx, audit, user, now)
            raise InvalidGrant().keeping_changes()
        if not user.is_active:
            self._count_failed_login("disabled", ctx)
            await self._audit_login_failed(session, audit, "disabled", user)
            raise InvalidGrant().keeping_changes()
        return user, check

    async def _open_session(
        self,
        session: AsyncSession,
        ctx: IdentityContext,
        audit: AuditContext,
        user: User,
        scope: str,
        client: ClientInfo,
        now: datetime,
        new_hash: str | None,
    ) -> IssuedTokens:
        """The writes of a successful login, in one statement (see `LoginRepository`)."""
        expires_at = now + timedelta(minutes=ctx.settings.session_absolute_minutes)
        session_id = uuid4()
        issued = new_opaque_token()
        await LoginRepository(session).record(
            user_id=user.id,
            now=now,
            new_hash=new_hash,
            session={
                "id": session_id,
                "idle_expires_at": min(
                    now + timedelta(minutes=ctx.settings.session_idle_minutes), expires_at
                ),
                "expires_at": expires_at,
                "user_agent": client.user_agent,
                "ip_address": client.ip_address,
            },
            refresh_digest=issued.digest,
            audit=audit_service.entry(
                audit.as_user(user.id),
                AuditAction.USER_LOGIN_SUCCEEDED,
                target_type=AuditTarget.USER,
                target_id=user.id,
                details={"session_id": str(session_id)},
            ),
        )
        access_token, expires_in = self._access_token(ctx, user, session_id, scope)
        return IssuedTokens(access_token, expires_in, issued.value, scope, session_id)

    def _access_token(
        self, ctx: IdentityContext, user: User, session_id: UUID, scope: str
    ) -> tuple[str, int]:
        ttl = ctx.settings.access_token_minutes * 60
        token, _ = issue_access_token(
            ctx.keys,
            issuer=ctx.issuer,
            audience=ctx.audience,
            subject=str(user.id),
            tenant_id=str(ctx.tenant.id),
            session_id=str(session_id),
            ttl_seconds=ttl,
            scope=scope,
        )
        return token, ttl

    async def _count_failure(
        self,
        session: AsyncSession,
        ctx: IdentityContext,
        audit: AuditContext,
        user: User,
        now: datetime,
    ) -> None:
        users = UserRepository(session)
        failures = await users.record_failed_login(user.id)
        self._count_failed_login("invalid_credentials", ctx)
        await self._audit_login_failed(session, audit, "invalid_password", user)
        if failures >= ctx.settings.lockout_threshold:
            until = now + timedelta(minutes=ctx.settings.lockout_minutes)
            await users.lock_until(user.id, until)
            LOCKOUTS.inc()
            await audit_service.record(
                session,
                audit,
                AuditAction.USER_LOCKED_OUT,
                target_type=AuditTarget.USER,
                target_id=user.id,
                details={"failures": failures, "locked_until": until.isoformat()},
            )

    async def _audit_login_failed(
        self, session: AsyncSession, audit: AuditContext, reason: str, user: User | None
    ) -> None:
        # The actor stays anonymous: a failed login proves nobody's identity.
        await audit_service.record(
            session,
            audit,
            AuditAction.USER_LOGIN_FAILED,
            outcome=AuditOutcome.FAILURE,
            target_type=AuditTarget.USER if user is not None else None,
            target_id=user.id if user is not None else None,
            details={"reason": reason},
        )

    async def _audit_session(
        self,
        session: AsyncSession,
        audit: AuditContext,
        action: AuditAction,
        session_id: UUID,
        *,
        reason: str,
        outcome: AuditOutcome = AuditOutcome.SUCCESS,
    ) -> None:
        """`reason` is the one the session row keeps (`revoked_reason`)."""
        owner = await SessionRepository(session).get(session_id)
        user_id = str(owner.user_id) if owner is not None else None
        await audit_service.record(
            session,
            audit,
            action,
            outcome=outcome,
            target_type=AuditTarget.SESSION,
            target_id=session_id,
            details={"reason": reason, "user_id": user_id},
        )

    def _count_failed_login(self, outcome: str, ctx: IdentityContext) -> None:
        LOGINS.labels(outcome=outcome, tenant=self._tenant_label(ctx)).inc()

    def _tenant_label(self, ctx: IdentityContext) -> str:
        return ctx.tenant.slug if ctx.tenant_labels else ""


def _alive(auth_session: AuthSession, now: datetime) -> bool:
    return (
        auth_session.revoked_at is None
        and auth_session.expires_at > now
        and auth_session.idle_expires_at > now
    )


auth_service = AuthService()
