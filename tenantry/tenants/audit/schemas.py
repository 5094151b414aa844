"""Audit event representations, and the listing's query parameters."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from tenantry.tenants.audit.actions import AuditOutcome

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 200

ActionFilter = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.]{0,63}$")]


class AuditEventFilters(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: ActionFilter | None = Field(
        None, description="An action (`user.login_failed`), or a prefix ending in `.` (`user.`)."
    )
    actor_id: UUID | None = None
    target_type: Annotated[str, StringConstraints(max_length=32)] | None = None
    target_id: Annotated[str, StringConstraints(max_length=64)] | None = None
    outcome: AuditOutcome | None = None
    since: AwareDatetime | None = Field(None, description="Events at or after this instant.")
    until: AwareDatetime | None = Field(None, description="Events before this instant.")


class AuditEventQuery(AuditEventFilters):
    limit: int = Field(DEFAULT_PAGE_SIZE, ge=1, le=MAX_PAGE_SIZE)
    cursor: Annotated[str, StringConstraints(max_length=256)] | None = Field(
        None, description="`next_cursor` from the previous page, with the same filters."
    )


class AuditEventRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    occurred_at: datetime
    action: str
    outcome: str
    actor_id: UUID | None
    actor_type: str
    target_type: str | None
    target_id: str | None
    request_id: str | None
    ip_address: str | None
    details: dict[str, Any]


class AuditEventPage(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    items: list[AuditEventRead]
    next_cursor: str | None
