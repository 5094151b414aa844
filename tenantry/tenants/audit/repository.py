"""Every query on the audit trail. There is no update or delete here, on purpose."""

from collections.abc import Sequence
from typing import Any

from sqlalchemy import ColumnElement, Select, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.tenants.audit.cursor import Position
from tenantry.tenants.audit.models import AuditEvent
from tenantry.tenants.audit.schemas import AuditEventFilters


class AuditEventRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def page(
        self, filters: AuditEventFilters, *, after: Position | None, limit: int
    ) -> Sequence[AuditEvent]:
        """Up to `limit` events matching `filters`, newest first, strictly after `after`."""
        return (await self.session.scalars(page_statement(filters, after=after, limit=limit))).all()


def page_statement(
    filters: AuditEventFilters, *, after: Position | None, limit: int
) -> Select[AuditEvent]:
    """Keyset pagination on the (occurred_at DESC, id DESC) index: the last page costs what the
    first does, where OFFSET would read and discard every earlier row."""
    statement = select(AuditEvent).where(*_conditions(filters))
    if after is not None:
        # A row comparison, which PostgreSQL answers as one range scan of that index.
        statement = statement.where(tuple_(AuditEvent.occurred_at, AuditEvent.id) < tuple_(*after))
    return statement.order_by(AuditEvent.occurred_at.desc(), AuditEvent.id.desc()).limit(limit)


def _conditions(filters: AuditEventFilters) -> list[ColumnElement[Any]]:
    conditions: list[ColumnElement[Any]] = []
    if filters.action is not None:
        if filters.action.endswith("."):
            # autoescape: `_` is a LIKE wildcard and action names are full of it.
            conditions.append(AuditEvent.action.startswith(filters.action, autoescape=True))
        else:
            conditions.append(AuditEvent.action == filters.action)
    if filters.actor_id is not None:
        conditions.append(AuditEvent.actor_id == filters.actor_id)
    if filters.target_type is not None:
        conditions.append(AuditEvent.target_type == filters.target_type)
    if filters.target_id is not None:
        conditions.append(AuditEvent.target_id == filters.target_id)
    if filters.outcome is not None:
        conditions.append(AuditEvent.outcome == filters.outcome.value)
    if filters.since is not None:
        conditions.append(AuditEvent.occurred_at >= filters.since)
    if filters.until is not None:
        conditions.append(AuditEvent.occurred_at < filters.until)
    return conditions
