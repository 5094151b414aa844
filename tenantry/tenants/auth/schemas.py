from pydantic import BaseModel, Field


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
