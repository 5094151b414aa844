"""Every query on roles, their permissions and their holders."""

from collections.abc import Iterable, Sequence
from uuid import UUID

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.tenants.roles.models import Role, RolePermission, UserRole
from tenantry.tenants.users.models import User, UserStatus


class RoleRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> Sequence[Role]:
        return (
            await self.session.scalars(select(Role).order_by(Role.builtin.desc(), Role.name))
        ).all()

    async def get(self, role_id: UUID) -> Role | None:
        return await self.session.get(Role, role_id)

    async def get_many(self, role_ids: Iterable[UUID]) -> Sequence[Role]:
        ids = list(role_ids)
        return (await self.session.scalars(select(Role).where(Role.id.in_(ids)))).all()

    async def by_name(self, name: str) -> Role | None:
        return await self.session.scalar(select(Role).where(func.lower(Role.name) == name.lower()))

    def add(self, role: Role) -> None:
        self.session.add(role)

    async def permissions(self) -> dict[UUID, set[str]]:
        rows = await self.session.execute(select(RolePermission.role_id, RolePermission.permission))
        grants: dict[UUID, set[str]] = {}
        for role_id, permission in rows:
            grants.setdefault(role_id, set()).add(permission)
        return grants

    async def permissions_of(self, role_id: UUID) -> set[str]:
        rows = await self.session.scalars(
            select(RolePermission.permission).where(RolePermission.role_id == role_id)
        )
        return set(rows)

    async def set_permissions(self, role_id: UUID, permissions: Iterable[str]) -> None:
        await self.session.execute(delete(RolePermission).where(RolePermission.role_id == role_id))
        rows = [{"role_id": role_id, "permission": p} for p in sorted(set(permissions))]
        if rows:
            await self.session.execute(insert(RolePermission), rows)

    async def delete(self, role_id: UUID) -> None:
        await self.session.execute(delete(Role).where(Role.id == role_id))

    async def holders_count(self, role_id: UUID) -> int:
        count = await self.session.scalar(
            select(func.count()).select_from(UserRole).where(UserRole.role_id == role_id)
        )
        return int(count or 0)

    async def reassign(self, from_role: UUID, to_role: UUID) -> None:
        # Holders of both keep one row; the others move over.
        await self.session.execute(
            delete(UserRole).where(
                UserRole.role_id == from_role,
                UserRole.user_id.in_(select(UserRole.user_id).where(UserRole.role_id == to_role)),
            )
        )
        await self.session.execute(
            update(UserRole).where(UserRole.role_id == from_role).values(role_id=to_role)
        )


class AssignmentRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def all(self) -> Sequence[tuple[UUID, UUID]]:
        rows = await self.session.execute(select(UserRole.user_id, UserRole.role_id))
        return [(user_id, role_id) for user_id, role_id in rows]

    async def roles_of(self, user_id: UUID) -> Sequence[Role]:
        return (
            await self.session.scalars(
                select(Role)
                .join(UserRole, UserRole.role_id == Role.id)
                .where(UserRole.user_id == user_id)
                .order_by(Role.name)
            )
        ).all()

    async def replace(
        self, user_id: UUID, role_ids: Iterable[UUID], granted_by: UUID | None
    ) -> None:
        await self.session.execute(delete(UserRole).where(UserRole.user_id == user_id))
        rows = [{"user_id": user_id, "role_id": r, "granted_by": granted_by} for r in set(role_ids)]
        if rows:
            await self.session.execute(insert(UserRole), rows)

    async def active_holders_except(self, role_id: UUID, user_id: UUID) -> int:
        """Active users other than `user_id` holding the role (the last-owner rule)."""
        count = await self.session.scalar(
            select(func.count())
            .select_from(UserRole)
            .join(User, User.id == UserRole.user_id)
            .where(
                UserRole.role_id == role_id,
                UserRole.user_id != user_id,
                User.status == UserStatus.ACTIVE.value,
            )
        )
        return int(count or 0)
