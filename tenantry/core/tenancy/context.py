"""The resolved tenant of a request, as the rest of the code sees it."""

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any
from uuid import UUID

# Lower-case, starts with a letter, ends with a letter or digit, 3 to 40 characters.
SLUG_PATTERN = re.compile(r"^[a-z][a-z0-9-]{1,38}[a-z0-9]$")

PLATFORM_TENANT_SLUG = "platform"


class TenantStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    DELETING = "deleting"


def schema_name_for(tenant_id: UUID) -> str:
    """A tenant's schema is named from its immutable id, never from anything a user typed."""
    return f"tenant_{tenant_id.hex}"


@dataclass(frozen=True, slots=True)
class Tenant:
    id: UUID
    slug: str
    display_name: str
    status: TenantStatus
    schema: str
    settings: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def is_platform(self) -> bool:
        return self.slug == PLATFORM_TENANT_SLUG
