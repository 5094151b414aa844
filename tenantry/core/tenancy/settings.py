"""Per-tenant configuration: one validated model with defaults, stored as JSON in the registry.

Read by the identity and authorization code through `tenant_settings(tenant)`; the control plane
validates changes against the same model, so an invalid setting never reaches storage.
"""

from enum import StrEnum
from typing import Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from tenantry.core.tenancy.context import Tenant


class SignupMode(StrEnum):
    OPEN = "open"
    INVITE_ONLY = "invite_only"
    CLOSED = "closed"


class TenantSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Passwords: NIST 800-63B / ASVS 5.0 rules: a minimum length, a deny-list, no composition rules.
    password_min_length: int = Field(default=8, ge=8, le=64)
    password_check_common: bool = True

    lockout_threshold: int = Field(default=10, ge=1, le=1000)
    lockout_minutes: int = Field(default=15, ge=1, le=24 * 60)

    access_token_minutes: int = Field(default=10, ge=5, le=15)
    session_idle_minutes: int = Field(default=60 * 24 * 7, ge=5)
    session_absolute_minutes: int = Field(default=60 * 24 * 30, ge=5)

    signup: SignupMode = SignupMode.INVITE_ONLY
    signup_allowed_domains: list[str] = Field(default_factory=list, max_length=100)

    email_verification_hours: int = Field(default=48, ge=1, le=24 * 30)
    password_reset_minutes: int = Field(default=30, ge=5, le=24 * 60)
    invitation_days: int = Field(default=7, ge=1, le=90)

    @model_validator(mode="after")
    def _idle_within_absolute(self) -> Self:
        if self.session_idle_minutes > self.session_absolute_minutes:
            raise ValueError("session_idle_minutes cannot exceed session_absolute_minutes")
        return self


def tenant_settings(tenant: Tenant) -> TenantSettings:
    """The tenant's settings with defaults filled in."""
    return TenantSettings.model_validate(tenant.settings)
