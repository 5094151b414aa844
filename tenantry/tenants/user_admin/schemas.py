"""Representations for the user administration API."""

from datetime import datetime
from enum import StrEnum
from typing import Any, Self
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, model_validator

from tenantry.tenants.invitations.schemas import RoleIds
from tenantry.tenants.roles.models import Role
from tenantry.tenants.users.models import User
from tenantry.tenants.users.schemas import PasswordInput, ProfileUpdate, UserRead


class SortKey(StrEnum):
    CREATED_AT = "created_at"
    EMAIL = "email"
    DISPLAY_NAME = "display_name"


class SortOrder(StrEnum):
    ASC = "asc"
    DESC = "desc"


class RoleRef(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    name: str


class UserAdminRead(UserRead):
    """What an administrator sees: the profile, plus roles and the automatic-lockout time."""

    roles: list[RoleRef]
    locked_until: datetime | None

    @classmethod
    def of(cls, user: User, roles: list[Role]) -> Self:
        # One validation from the ORM objects (`RoleRef` reads attributes too): a page of users
        # used to validate each profile, dump it and validate it again.
        fields = {name: getattr(user, name) for name in _PROFILE_FIELDS}
        return cls.model_validate({**fields, "roles": roles, "locked_until": user.locked_until})


_PROFILE_FIELDS = tuple(UserRead.model_fields)


class UserPage(BaseModel):
    items: list[UserAdminRead]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null at end.")


class UserCreate(ProfileUpdate):
    """With a password the user is created at once; without one, an invitation is sent instead
    (the invitee chooses their password and fills in their own profile)."""

    email: EmailStr
    password: PasswordInput | None = None
    email_verified: bool = False
    role_ids: RoleIds = Field(default_factory=list)

    def profile(self) -> dict[str, Any]:
        return {
            field: value
            for field, value in self.changes().items()
            if field in ProfileUpdate.model_fields
        }


class UserAdminUpdate(ProfileUpdate):
    """Profile fields, plus the email address and whether it is verified. A new address is
    unverified unless `email_verified: true` comes with it (the administrator vouches for it)."""

    email: EmailStr | None = None
    email_verified: bool | None = None

    @model_validator(mode="after")
    def _no_nulls_for_required(self) -> Self:
        for field in ("email", "email_verified"):
            if field in self.model_fields_set and getattr(self, field) is None:
                raise ValueError(f"{field} cannot be null")
        return self


class RoleAssignment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role_ids: RoleIds


class SessionsRevoked(BaseModel):
    revoked_sessions: int
