"""User representations. Writes validate every field; reads never include security state."""

import json
import zoneinfo
from datetime import datetime
from functools import lru_cache
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, AnyHttpUrl, BaseModel, ConfigDict, Field, StringConstraints

MAX_ATTRIBUTES_BYTES = 16 * 1024
MAX_ATTRIBUTE_KEYS = 64

# Long enough for any real password (the policy caps at 128); short enough that nobody can make
# the server hash megabytes.
PasswordInput = Annotated[str, Field(min_length=1, max_length=1024)]
Locale = Annotated[str, StringConstraints(pattern=r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")]


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def _known_zone(value: str) -> str:
    if value not in _zones():
        raise ValueError("unknown IANA time zone")
    return value


def _bounded_attributes(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_ATTRIBUTE_KEYS:
        raise ValueError(f"at most {MAX_ATTRIBUTE_KEYS} attributes")
    if any(len(key) > 64 for key in value):
        raise ValueError("attribute names are at most 64 characters")
    if len(json.dumps(value, separators=(",", ":")).encode()) > MAX_ATTRIBUTES_BYTES:
        raise ValueError(f"attributes take at most {MAX_ATTRIBUTES_BYTES} bytes as JSON")
    return value


TimeZone = Annotated[str, AfterValidator(_known_zone)]
Attributes = Annotated[dict[str, Any], AfterValidator(_bounded_attributes)]


class UserRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    email: str
    email_verified: bool
    status: str
    display_name: str | None
    given_name: str | None
    family_name: str | None
    avatar_url: str | None
    locale: str | None
    time_zone: str | None
    bio: str | None
    attributes: dict[str, Any]
    last_login_at: datetime | None
    created_at: datetime
    updated_at: datetime


class ProfileUpdate(BaseModel):
    """Fields a user may change on themselves; omitted fields stay, `null` clears."""

    model_config = ConfigDict(extra="forbid")

    display_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None
    ) = None
    given_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = (
        None
    )
    family_name: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = (
        None
    )
    avatar_url: AnyHttpUrl | None = None
    locale: Locale | None = None
    time_zone: TimeZone | None = None
    bio: Annotated[str, StringConstraints(max_length=2000)] | None = None
    attributes: Attributes | None = None

    def changes(self) -> dict[str, Any]:
        values = self.model_dump(exclude_unset=True)
        if values.get("avatar_url") is not None:
            values["avatar_url"] = str(values["avatar_url"])
        if "attributes" in values and values["attributes"] is None:
            # `null` clears to no attributes; stored as JSON null it would fail every later read.
            values["attributes"] = {}
        return values


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    current_password: PasswordInput
    new_password: PasswordInput


class SessionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: UUID
    created_at: datetime
    last_used_at: datetime
    idle_expires_at: datetime
    expires_at: datetime
    user_agent: str | None
    ip_address: str | None
    current: bool = False
