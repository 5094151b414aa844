from datetime import datetime
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr


class OperatorCreate(BaseModel):
    """What `tenantry operators create` validates before anything touches the database."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    display_name: str | None = None


class OperatorRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    email: str
    display_name: str | None
    status: str
    last_login_at: datetime | None
    created_at: datetime
