"""What the control plane reads and writes about tenants; the API and the CLI share them."""

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from tenantry.core.tenancy.context import SLUG_PATTERN, TenantStatus
from tenantry.core.tenancy.settings import TenantSettings

JsonSchema = dict[str, Any]


def _documented(kind: str, keywords: JsonSchema) -> Callable[[JsonSchema], None]:
    """Adds `keywords` to the `kind` branch of a field's JSON schema (the field itself, or its
    non-null branch when it is optional).

    Documentation only: the service still checks these values itself, so that its errors keep
    their own codes and messages (`invalid_slug`, one error per setting). Documented, they show
    operators what is accepted, and let the fuzzer's valid cases be valid.
    """

    def update(schema: JsonSchema) -> None:
        branches = schema.get("anyOf", [schema])
        next(branch for branch in branches if branch.get("type") == kind).update(keywords)

    return update


def _settings_keywords(*, resettable: bool) -> JsonSchema:
    """`TenantSettings` as a change to it: every key optional, unknown keys refused, and with
    `resettable`, null for "back to the default"."""
    schema = TenantSettings.model_json_schema()
    definitions = schema.get("$defs", {})
    properties: JsonSchema = {}
    for name, field in schema["properties"].items():
        reference = field.pop("$ref", None)
        if reference is not None:
            field = {**definitions[reference.rpartition("/")[2]], **field}
        properties[name] = {"anyOf": [field, {"type": "null"}]} if resettable else field
    return {"properties": properties, "additionalProperties": False}


SLUG_RULES = (
    "3 to 40 characters: lower-case letters, digits and hyphens (never two in a row), starting "
    "with a letter and ending with a letter or digit; a few words are reserved."
)
_SLUG_SCHEMA = _documented("string", {"pattern": SLUG_PATTERN.pattern})

Slug = Annotated[str, StringConstraints(strip_whitespace=True, max_length=40)]
DisplayName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Hostname = Annotated[str, StringConstraints(strip_whitespace=True, to_lower=True, max_length=253)]
MAX_DOMAINS = 20


class TenantCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    slug: Slug = Field(description=SLUG_RULES, json_schema_extra=_SLUG_SCHEMA)
    display_name: DisplayName
    admin_email: EmailStr = Field(description="Receives an invitation to become the owner.")
    settings: dict[str, Any] = Field(
        default_factory=dict,
        description="Tenant settings; omitted ones take their defaults.",
        json_schema_extra=_documented("object", _settings_keywords(resettable=False)),
    )
    domains: list[Hostname] = Field(default_factory=list, max_length=MAX_DOMAINS)


class TenantUpdate(BaseModel):
    """Omitted fields stay as they are. In `settings`, a key set to null returns to its default."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None = None
    slug: Slug | None = Field(default=None, description=SLUG_RULES, json_schema_extra=_SLUG_SCHEMA)
    add_domains: list[Hostname] = Field(default_factory=list, max_length=MAX_DOMAINS)
    remove_domains: list[Hostname] = Field(default_factory=list, max_length=MAX_DOMAINS)
    settings: dict[str, Any] | None = Field(
        default=None,
        description="Settings to change; null returns a setting to its default.",
        json_schema_extra=_documented("object", _settings_keywords(resettable=True)),
    )


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
