"""Every query on sessions, refresh tokens and single-use tokens."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID, uuid4

from sqlalchemy import BindParameter, Insert, Table, Text, bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.tenants.audit.models import AuditEvent
from tenantry.tenants.auth.models import AuthSession, OneTimeToken, RefreshToken, TokenPurpose
from tenantry.tenants.users.models import User

# Rows written on every login and rotation go in through Core: nothing reads them back as objects
# in the same request, so they need no unit-of-work bookkeeping.
_SESSIONS = cast(Table, AuthSession.__table__)
_REFRESH_TOKENS = cast(Table, RefreshToken.__table__)
_USERS = cast(Table, User.__table__)
_AUDIT_EVENTS = cast(Table, AuditEvent.__table__)


def _login_writes() -> Insert:
    """Every write of a successful login as one statement of data-modifying WITH clauses.

    Four statements cost four round trips and, on a 2-core machine where argon2 takes the rest,
    about 1.5 ms of CPU per login in SQLAlchemy and asyncpg; one costs one. PostgreSQL runs every
    clause exactly once whether or not it is read, and checks the refresh token's foreign key
    at the end of the statement, when the session row is there. Built once, with bind parameters,
    so its compiled form is cached (see `_USER_BY_EMAIL` in the users repository).
    """
    user = (
        update(_USERS)
        .where(_USERS.c.id == bindparam("user_id"))
        .values(
            failed_login_count=0,
            locked_until=None,
            last_login_at=bindparam("now"),
            # A rehash on login (parameters raised since the password was set) rides along.
            password_hash=func.coalesce(bindparam("new_hash", type_=Text), _USERS.c.password_hash),
            updated_at=func.now(),
        )
        .cte("login_user")
    )
    opened = (
        insert(_SESSIONS)
        .values(
            id=bindparam("session_id"),
            user_id=bindparam("user_id"),
            last_used_at=bindparam("now"),
            idle_expires_at=bindparam("idle_expires_at"),
            expires_at=bindparam("expires_at"),
            user_agent=bindparam("user_agent"),
            ip_address=bindparam("ip_address"),
        )
        .cte("login_session")
    )
    refresh = (
        insert(_REFRESH_TOKENS)
        .values(
            id=bindparam("refresh_id"),
            session_id=bindparam("session_id"),
            digest=bindparam("digest"),
        )
        .cte("login_refresh_token")
    )
    columns = ("id", "action", "outcome", "actor_id", "actor_type", "target_type", "target_id")
    audited: dict[str, BindParameter[Any]] = {name: bindparam(f"audit_{name}") for name in columns}
    return (
        insert(_AUDIT_EVENTS)
        .values(
            **audited,
            request_id=bindparam("audit_request_id"),
            ip_address=bindparam("audit_ip_address"),
            details=bindparam("audit_details", type_=_AUDIT_EVENTS.c.details.type),
        )
        .add_cte(user, opened, refresh)
    )


# Public for the benchmark's bare login (bench/baseline_app.py), which sends the same statement.
LOGIN_WRITES = _login_writes()


class LoginRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def record(
        self,
        *,
        user_id: UUID,
        now: datetime,
        new_hash: str | None,
        session: dict[str, Any],
        refresh_digest: bytes,
        audit: dict[str, Any],
    ) -> None:
        """A successful login: reset the user's failure count and stamp the login (and store a
        rehash), open the session and its first refresh token, append the audit event.

        `session` holds `AuthSession` columns (`id`, `idle_expires_at`, `expires_at`,
        `user_agent`, `ip_address`); `audit` is `audit_service.entry(...)`.
        """
        params = {
            "user_id": user_id,
            "now": now,
            "new_hash": new_hash,
            "session_id": session["id"],
            "idle_expires_at": session["idle_expires_at"],
            "expires_at": session["expires_at"],
            "user_agent": session["user_agent"],
            "ip_address": session["ip_address"],
            "refresh_id": uuid4(),
            "digest": refresh_digest,
            **{f"audit_{name}": value for name, value in audit.items()},
        }
        await self.session.execute(LOGIN_WRITES, params)


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, session_id: UUID) -> AuthSession | None:
        return await self.session.get(AuthSession, session_id)

    async def list_active(self, user_id: UUID, now: datetime) -> Sequence[AuthSession]:
        result = await self.session.scalars(
            select(AuthSession)
            .where(
                AuthSession.user_id == user_id,
                AuthSession.revoked_at.is_(None),
                AuthSession.expires_at > now,
                AuthSession.idle_expires_at > now,
            )
            .order_by(AuthSession.last_used_at.desc())
        )
        return result.all()

    async def revoke(self, session_id: UUID, now: datetime, reason: str) -> bool:
        result = await self.session.execute(
            update(AuthSession)
            .where(AuthSession.id == session_id, AuthSession.revoked_at.is_(None))
            .values(revoked_at=now, revoked_reason=reason)
            .returning(AuthSession.id)
        )
        return result.first() is not None

    async def revoke_all(
        self, user_id: UUID, now: datetime, reason: str, *, keep: UUID | None = None
    ) -> int:
        condition = [AuthSession.user_id == user_id, AuthSession.revoked_at.is_(None)]
        if keep is not None:
            condition.append(AuthSession.id != keep)
        result = await self.session.execute(
            update(AuthSession)
            .where(*condition)
            .values(revoked_at=now, revoked_reason=reason)
            .returning(AuthSession.id)
        )
        return len(result.all())


class RefreshTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, session_id: UUID, digest: bytes) -> None:
        await self.session.execute(
            insert(_REFRESH_TOKENS).values(session_id=session_id, digest=digest)
        )

    async def consume(self, digest: bytes, now: datetime) -> UUID | None:
        """Mark an unused token used and return its session, in one statement.

        The row lock taken by UPDATE makes two concurrent presentations of one token resolve to
        exactly one winner; the other sees it used and is treated as a replay.
        """
        return await self.session.scalar(
            update(RefreshToken)
            .where(RefreshToken.digest == digest, RefreshToken.used_at.is_(None))
            .values(used_at=now)
            .returning(RefreshToken.session_id)
        )

    async def session_of(self, digest: bytes) -> UUID | None:
        return await self.session.scalar(
            select(RefreshToken.session_id).where(RefreshToken.digest == digest)
        )


class OneTimeTokenRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(
        self, user_id: UUID, purpose: TokenPurpose, digest: bytes, expires_at: datetime
    ) -> None:
        self.session.add(
            OneTimeToken(
                user_id=user_id, purpose=purpose.value, digest=digest, expires_at=expires_at
            )
        )

    async def consume(self, digest: bytes, purpose: TokenPurpose, now: datetime) -> UUID | None:
        """Use a live token once; return its user. Expired, used or unknown tokens give None."""
        return await self.session.scalar(
            update(OneTimeToken)
            .where(
                OneTimeToken.digest == digest,
                OneTimeToken.purpose == purpose.value,
                OneTimeToken.used_at.is_(None),
                OneTimeToken.expires_at > now,
            )
            .values(used_at=now)
            .returning(OneTimeToken.user_id)
        )

    async def retire_all(self, user_id: UUID, purpose: TokenPurpose, now: datetime) -> None:
        """A new token of a kind makes the older ones useless: only the latest link works."""
        await self.session.execute(
            update(OneTimeToken)
            .where(
                OneTimeToken.user_id == user_id,
                OneTimeToken.purpose == purpose.value,
                OneTimeToken.used_at.is_(None),
            )
            .values(used_at=now)
        )
