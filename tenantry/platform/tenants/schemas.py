"""What the control plane reads and writes about tenants; the API and the CLI share them."""

from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from tenantry.core.tenancy.context import TenantStatus

DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Hostname = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=253)]
MAX_DOMAINS = 20


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
    display_name: DisplayName
    admin_email: EmailStr = Field(description="Receives an invitation to become the owner.")
    settings: dict[str, Any] = Field(
        default_factory=dict, description="Tenant settings; omitted ones take their defaults."
    )
    domains: list[Hostname] = Field(default_factory=list, max_length=MAX_DOMAINS)


class TenantUpdate(BaseModel):
    """Omitted fields stay as they are. In `settings`, a key set to null returns to its default."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None = None
    slug: Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)] | None = None
    add_domains: list[Hostname] = Field(default_factory=list, max_length=MAX_DOMAINS)
    remove_domains: list[Hostname] = Field(default_factory=list, max_length=MAX_DOMAINS)
    settings: dict[str, Any] | None = None


class TenantUrls(BaseModel):
    issuer: str
    api: str
    token_endpoint: str
    openid_configuration: str


class TenantRead(BaseModel):
    id: UUID
    slug: str
    display_name: str
    status: TenantStatus
    schema_name: str
    schema_version: str | None
    settings: dict[str, Any] = Field(description="Every setting, defaults included.")
    domains: list[str]
    purge_after: datetime | None = Field(description="When a tenant being deleted may be purged.")
    created_at: datetime
    updated_at: datetime
    urls: TenantUrls


class TenantDetail(TenantRead):
    user_count: int
    schema_current: bool = Field(description="Whether the schema is at the migration head.")


class InvitationSent(BaseModel):
    email: str
    expires_at: datetime


class TenantCreated(TenantRead):
    invitation: InvitationSent


class TenantPage(BaseModel):
    items: list[TenantRead]
    next_cursor: str | None = None


class TenantQuery(BaseModel):
    status: TenantStatus | None = None
    q: Annotated[str, StringConstraints(strip_whitespace=True, max_length=100)] | None = None
    limit: int = Field(default=50, ge=1, le=500)
    cursor: Annotated[str, StringConstraints(max_length=512)] | None = None
