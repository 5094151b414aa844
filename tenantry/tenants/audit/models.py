"""The audit trail: append-only. The code has no update or delete path, and a trigger in every
tenant schema refuses UPDATE, DELETE and TRUNCATE on the table."""

from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.core.models import TenantBase, uuid_pk


class AuditEvent(TenantBase):
    __tablename__ = "audit_events"

    id: Mapped[UUID] = uuid_pk()
    occurred_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    action: Mapped[str] = mapped_column(String(64))  # dotted: "user.login_failed"
    outcome: Mapped[str] = mapped_column(String(16))  # success | failure | denied
    actor_id: Mapped[UUID | None] = mapped_column()
    actor_type: Mapped[str] = mapped_column(String(16))  # user | operator | system | anonymous
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(128))
    ip_address: Mapped[str | None] = mapped_column(String(64))
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict, server_default="{}")


# Newest first, with the id as tie-breaker: the order of cursor pagination.
Index("ix_audit_events_occurred_at_id", AuditEvent.occurred_at.desc(), AuditEvent.id.desc())
Index("ix_audit_events_action", AuditEvent.action)
Index("ix_audit_events_actor_id", AuditEvent.actor_id)
