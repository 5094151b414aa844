"""Queries on the platform tenant's schema about its operators."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.tenants.roles.models import Role, UserRole
from tenantry.tenants.users.models import User


class OperatorRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def holders_of(self, builtin_role: str) -> Sequence[User]:
        query = (
            select(User)
            .join(UserRole, UserRole.user_id == User.id)
            .join(Role, Role.id == UserRole.role_id)
            .where(Role.name == builtin_role, Role.builtin.is_(True))
            .order_by(User.email)
        )
        return (await self.session.scalars(query)).all()
