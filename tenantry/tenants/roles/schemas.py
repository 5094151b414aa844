from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

RoleName = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=2, max_length=64, pattern=r"^[\w .-]+$"),
]
Permissions = Annotated[
    list[Annotated[str, StringConstraints(max_length=64)]], Field(max_length=64)
]


class RoleRead(BaseModel):
    id: UUID
    name: str
    description: str | None
    builtin: bool
    permissions: list[str]
    created_at: datetime
    updated_at: datetime


class RoleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: RoleName
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    permissions: Permissions = Field(default_factory=list)


class RoleUpdate(BaseModel):
    """Omitted fields stay as they are."""

    model_config = ConfigDict(extra="forbid")

    name: RoleName | None = None
    description: Annotated[str, StringConstraints(max_length=500)] | None = None
    permissions: Permissions | None = None
