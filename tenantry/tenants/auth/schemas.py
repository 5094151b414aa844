from pydantic import BaseModel, Field


class TokenRequest(BaseModel):
    """RFC 6749 sections 4.3.2 and 6, as a form. Every field is optional here so that a missing
    one is answered in the RFC's own form (400 `invalid_request`), not with a generic 422.

    One model instead of six `Form()` parameters: FastAPI inspects each parameter's annotation
    again on every request, which the login benchmark's profile showed (bench/README.md).
    """

    grant_type: str | None = None
    username: str | None = None
    password: str | None = None
    refresh_token: str | None = None
    scope: str | None = None
    client_id: str | None = None  # public clients only for now: accepted, not checked


class TokenResponse(BaseModel):
    """RFC 6749 section 5.1."""

    access_token: str
    token_type: str = "Bearer"  # noqa: S105 - RFC 6750 token type
    expires_in: int
    refresh_token: str
    scope: str


class OAuthErrorBody(BaseModel):
    """RFC 6749 section 5.2."""

    error: str = Field(examples=["invalid_grant"])
    error_description: str
    detail: str
