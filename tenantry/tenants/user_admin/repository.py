"""Every query of user administration: the paginated list, roles by page, deletion."""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import (
    ColumnElement,
    Select,
    SQLColumnExpression,
    bindparam,
    delete,
    or_,
    select,
    tuple_,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.tenants.roles.models import Role, UserRole
from tenantry.tenants.user_admin.schemas import SortKey, SortOrder
from tenantry.tenants.users.models import DISPLAY_NAME_SORT_KEY, EMAIL_SORT_KEY, User

# Each expression has an index with the id (t0004); the cursor holds its value for the last row.
SORT_EXPRESSIONS: dict[SortKey, SQLColumnExpression[Any]] = {
    SortKey.CREATED_AT: User.created_at,
    SortKey.EMAIL: EMAIL_SORT_KEY,
    SortKey.DISPLAY_NAME: DISPLAY_NAME_SORT_KEY,
}

# Built once: composing a statement costs more than running its cached compilation, and the list
# is the busiest administrative read. A request only adds its filters, position and limit.
_PAGES: dict[tuple[SortKey, SortOrder], Select[tuple[User, Any]]] = {
    (sort, order): select(User, key).order_by(
        *((key.asc(), User.id.asc()) if order is SortOrder.ASC else (key.desc(), User.id.desc()))
    )
    for sort, key in SORT_EXPRESSIONS.items()
    for order in SortOrder
}
_ROLES_OF_USERS = (
    select(UserRole.user_id, Role)
    .join(Role, Role.id == UserRole.role_id)
    .where(UserRole.user_id.in_(bindparam("user_ids", expanding=True)))
    .order_by(Role.name)
)


@dataclass(frozen=True, slots=True)
class UserFilter:
    status: str | None = None
    role_id: UUID | None = None
    q: str | None = None


def _like_pattern(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class UserAdminRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(
        self,
        filters: UserFilter,
        *,
        sort: SortKey,
        order: SortOrder,
        after: tuple[object, UUID] | None,
        limit: int,
    ) -> Sequence[tuple[User, object]]:
        """Up to `limit` users after the `(sort value, id)` position, with each one's sort value.

        Keyset pagination: the position is a range condition on an index, never an OFFSET, so
        page 500 costs what page 1 does.
        """
        query = _PAGES[sort, order]
        conditions = self._conditions(filters)
        if after is not None:
            position = tuple_(SORT_EXPRESSIONS[sort], User.id)
            bound = tuple_(*after)
            conditions.append(position > bound if order is SortOrder.ASC else position < bound)
        if conditions:
            query = query.where(*conditions)
        rows = await self.session.execute(query.limit(limit))
        return [(user, value) for user, value in rows]

    def _conditions(self, filters: UserFilter) -> list[ColumnElement[bool]]:
        conditions: list[ColumnElement[bool]] = []
        if filters.status is not None:
            conditions.append(User.status == filters.status)
        if filters.role_id is not None:
            holders = select(UserRole.user_id).where(UserRole.role_id == filters.role_id)
            conditions.append(User.id.in_(holders))
        if filters.q:
            pattern = _like_pattern(filters.q)
            conditions.append(
                or_(
                    *(
                        column.ilike(pattern, escape="\\")
                        for column in (
                            User.email,
                            User.display_name,
                            User.given_name,
                            User.family_name,
                        )
                    )
                )
            )
        return conditions

    async def roles_by_user(self, user_ids: Iterable[UUID]) -> dict[UUID, list[Role]]:
        """The roles of a whole page of users in one query."""
        ids = list(user_ids)
        found: dict[UUID, list[Role]] = {user_id: [] for user_id in ids}
        if not ids:
            return found
        rows = await self.session.execute(_ROLES_OF_USERS, {"user_ids": ids})
        for user_id, role in rows:
            found[user_id].append(role)
        return found

    async def lock_role(self, role_id: UUID) -> None:
        """Serialize last-owner checks: without a common lock, two owners locking each other at
        once would each see the other still active (write skew) and leave no owner. FOR NO KEY
        UPDATE: it conflicts with itself, not with the key-share locks of foreign-key inserts."""
        await self.session.execute(
            select(Role.id).where(Role.id == role_id).with_for_update(key_share=True)
        )

    async def delete(self, user_id: UUID) -> None:
        # Sessions, refresh and one-time tokens and role assignments go with it (ON DELETE CASCADE).
        await self.session.execute(delete(User).where(User.id == user_id))
