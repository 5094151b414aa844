from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from tenantry.tenants.users.schemas import PasswordInput

TokenInput = Annotated[str, StringConstraints(min_length=16, max_length=128)]
RoleIds = Annotated[list[UUID], Field(max_length=50)]


class InvitationCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    role_ids: RoleIds = Field(default_factory=list)


class InvitationRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    email: str
    role_ids: list[UUID]
    invited_by: UUID | None
    created_at: datetime
    last_sent_at: datetime
    expires_at: datetime


class InvitationPage(BaseModel):
    items: list[InvitationRead]
    next_cursor: str | None


class InvitationAccept(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: TokenInput
    password: PasswordInput
    display_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None
    ) = None
