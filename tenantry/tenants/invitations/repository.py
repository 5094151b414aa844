"""Every query on invitations."""

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import ColumnElement, and_, func, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.tenants.invitations.models import Invitation


def _open() -> ColumnElement[bool]:
    return and_(Invitation.accepted_at.is_(None), Invitation.revoked_at.is_(None))


def _pending(now: datetime) -> ColumnElement[bool]:
    return and_(_open(), Invitation.expires_at > now)


class InvitationRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    def add(self, invitation: Invitation) -> None:
        self.session.add(invitation)

    async def get_open_for_update(self, invitation_id: UUID) -> Invitation | None:
        """Neither accepted nor revoked (expired ones may be resent), row-locked against a
        concurrent accept or resend."""
        return await self.session.scalar(
            select(Invitation).where(Invitation.id == invitation_id, _open()).with_for_update()
        )

    async def pending_for_email(self, email: str, now: datetime) -> Invitation | None:
        return await self.session.scalar(
            select(Invitation)
            .where(func.lower(Invitation.email) == email.strip().lower(), _pending(now))
            .limit(1)
        )

    async def page_pending(
        self, now: datetime, *, limit: int, after: tuple[datetime, UUID] | None
    ) -> Sequence[Invitation]:
        """Newest first; `after` is the (created_at, id) of the last row of the previous page."""
        query = select(Invitation).where(_pending(now))
        if after is not None:
            query = query.where(tuple_(Invitation.created_at, Invitation.id) < tuple_(*after))
        query = query.order_by(Invitation.created_at.desc(), Invitation.id.desc()).limit(limit)
        return (await self.session.scalars(query)).all()

    async def find_pending(self, digest: bytes, now: datetime) -> Invitation | None:
        return await self.session.scalar(
            select(Invitation).where(Invitation.digest == digest, _pending(now))
        )

    async def consume(self, digest: bytes, now: datetime) -> Invitation | None:
        """Mark a pending invitation accepted and return it, in one statement.

        The UPDATE's row lock makes concurrent accepts of one token wait for each other; the
        loser re-reads `accepted_at` as set and gets no row.
        """
        return await self.session.scalar(
            update(Invitation)
            .where(Invitation.digest == digest, _pending(now))
            .values(accepted_at=now)
            .returning(Invitation)
        )

    async def revoke(self, invitation_id: UUID, now: datetime) -> bool:
        result = await self.session.execute(
            update(Invitation)
            .where(Invitation.id == invitation_id, _open())
            .values(revoked_at=now)
            .returning(Invitation.id)
        )
        return result.first() is not None
