"""Every query on sessions, refresh tokens and single-use tokens."""

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast
from uuid import UUID

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.tenants.auth.models import AuthSession, OneTimeToken, RefreshToken, TokenPurpose

# Rows written on every login and rotation go in through Core, at once: nothing reads them back as
# objects in the same request, so they need no unit-of-work bookkeeping, and the session row is in
# before its refresh token without a flush in the middle of the login.
_SESSIONS = cast(Table, AuthSession.__table__)
_REFRESH_TOKENS = cast(Table, RefreshToken.__table__)


class SessionRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def insert(self, **values: Any) -> None:
        """A new session row; `values` are `AuthSession` columns, `id` included."""
        await self.session.execute(insert(_SESSIONS).values(**values))

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
