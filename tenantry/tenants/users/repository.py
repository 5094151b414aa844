"""Every query on users."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.tenants.auth.models import AuthSession
from tenantry.tenants.users.models import User

# The hottest reads (every login, every authenticated request) are built once: a reused statement
# object keeps its memoized cache key, so SQLAlchemy skips rebuilding the expression and its key.
_USER_BY_EMAIL = select(User).where(func.lower(User.email) == bindparam("email"))
_USER_FOR_LIVE_SESSION = (
    select(User)
    .join(AuthSession, AuthSession.user_id == User.id)
    .where(
        User.id == bindparam("user_id"),
        AuthSession.id == bindparam("session_id"),
        AuthSession.revoked_at.is_(None),
        AuthSession.expires_at > bindparam("now"),
    )
)


class UserRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, user_id: UUID) -> User | None:
        return await self.session.get(User, user_id)

    async def get_by_email(self, email: str) -> User | None:
        return await self.session.scalar(_USER_BY_EMAIL, {"email": email.strip().lower()})

    async def get_for_session(self, user_id: UUID, session_id: UUID, now: datetime) -> User | None:
        """The user, only while the session named in their access token is still alive."""
        return await self.session.scalar(
            _USER_FOR_LIVE_SESSION, {"user_id": user_id, "session_id": session_id, "now": now}
        )

    def add(self, user: User) -> None:
        self.session.add(user)

    async def record_failed_login(self, user_id: UUID) -> int:
        """Count one failure atomically (concurrent guesses must all count); return the total."""
        count = await self.session.scalar(
            update(User)
            .where(User.id == user_id)
            .values(failed_login_count=User.failed_login_count + 1)
            .returning(User.failed_login_count)
        )
        return int(count or 0)

    async def lock_until(self, user_id: UUID, until: datetime) -> None:
        await self.session.execute(
            update(User).where(User.id == user_id).values(locked_until=until, failed_login_count=0)
        )
