from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, StringConstraints

from tenantry.tenants.users.schemas import PasswordInput

TokenInput = Annotated[str, StringConstraints(min_length=16, max_length=128)]


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    password: PasswordInput
    display_name: (
        Annotated[str, StringConstraints(strip_whitespace=True, max_length=200)] | None
    ) = None


class EmailVerification(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: TokenInput


class PasswordResetRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    email: Annotated[str, StringConstraints(max_length=320)]


class PasswordResetConfirm(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: TokenInput
    new_password: PasswordInput


class Accepted(BaseModel):
    """The same answer whether or not the address belongs to an account (no enumeration)."""

    status: str = Field(default="accepted")
    detail: str
