"""Recording security-relevant events in the tenant's append-only audit trail.

Call `audit_service.record(...)` inside the request's transaction: the event commits with the
change it describes, or not at all. Failed logins and refused actions are recorded by errors that
keep their changes (`TenantryError.keeping_changes()`). Action names come from
`tenantry.tenants.audit.actions`, and docs/audit.md lists them.

Who the actor is: routes that authenticate their caller bind it (`audit.as_user(user.id)`); the
flows that establish a user themselves (login, registration, emailed links) bind it once proven.
Until then the actor stays anonymous and the account concerned is the event's target.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Annotated, Any
from uuid import UUID, uuid4

import structlog
from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.tenants.audit.cursor import Position, decode_cursor, encode_cursor
from tenantry.tenants.audit.models import AuditEvent
from tenantry.tenants.audit.repository import AuditEventRepository
from tenantry.tenants.audit.schemas import AuditEventQuery

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who acts, and from where. Filled per request; `system()` for work without a request."""

    actor_id: UUID | None = None
    actor_type: str = "anonymous"  # user | operator | system | anonymous
    request_id: str | None = None
    ip_address: str | None = None

    def as_user(self, user_id: UUID) -> "AuditContext":
        return AuditContext(user_id, "user", self.request_id, self.ip_address)

    @classmethod
    def system(cls) -> "AuditContext":
        return cls(actor_type="system")


@dataclass(frozen=True, slots=True)
class AuditPage:
    items: Sequence[AuditEvent]
    next_cursor: str | None


class AuditService:
    async def record(
        self,
        session: AsyncSession,
        context: AuditContext,
        action: str,
        *,
        outcome: str = "success",
        target_type: str | None = None,
        target_id: object | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Append one event, and write it to the log too, so a change is audited and logged in
        one call. `details` must never hold secrets (passwords, tokens)."""
        session.add(
            AuditEvent(
                **self.entry(
                    context,
                    action,
                    outcome=outcome,
                    target_type=target_type,
                    target_id=target_id,
                    details=details,
                )
            )
        )

    def entry(
        self,
        context: AuditContext,
        action: str,
        *,
        outcome: str = "success",
        target_type: str | None = None,
        target_id: object | None = None,
        details: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Write the event to the log and return its row's columns (`id` included), for a caller
        that inserts the row within a statement of its own, as the login does. `record` is the
        usual way; the same rule on secrets holds."""
        target = str(target_id) if target_id is not None else None
        emit = log.info if outcome == "success" else log.warning
        emit(
            str(action),
            outcome=str(outcome),
            actor_id=str(context.actor_id) if context.actor_id else None,
            target_type=str(target_type) if target_type else None,
            target_id=target,
            details=details or {},
        )
        return {
            "id": uuid4(),
            "action": action,
            "outcome": outcome,
            "actor_id": context.actor_id,
            "actor_type": context.actor_type,
            "target_type": target_type,
            "target_id": target,
            "request_id": context.request_id,
            "ip_address": context.ip_address,
            "details": details or {},
        }

    async def list_events(self, session: AsyncSession, query: AuditEventQuery) -> AuditPage:
        after = decode_cursor(query.cursor) if query.cursor else None
        # One row more than asked tells whether another page exists, without a count.
        events = await AuditEventRepository(session).page(query, after=after, limit=query.limit + 1)
        items = events[: query.limit]
        more = len(events) > query.limit
        last = items[-1] if items else None
        next_cursor = encode_cursor(Position(last.occurred_at, last.id)) if more and last else None
        return AuditPage(items, next_cursor)


audit_service = AuditService()


async def request_audit_context(request: Request) -> AuditContext:
    """Anonymous until the route knows its user; use `.as_user(user.id)` then."""
    state = request.scope.get("state", {})
    return AuditContext(
        request_id=state.get("request_id"),
        ip_address=request.client.host if request.client else None,
    )


Audit = Annotated[AuditContext, Depends(request_audit_context)]
