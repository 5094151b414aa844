"""OAuth 2.0 errors in the form RFC 6749 section 5.2 prescribes.

`{"error": code, "error_description": text}`; 400 for every error but `invalid_client` (401).
The shared `detail` field is kept too, so clients of the rest of the API read them the same way.
"""

from typing import Any

from tenantry.core.errors import TenantryError

NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class OAuthError(TenantryError):
    code = "invalid_request"
    detail = "The request is missing a parameter or is otherwise malformed."

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers=NO_STORE)

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "error_description": self.detail, "detail": self.detail}


class InvalidRequest(OAuthError):
    code = "invalid_request"


class InvalidGrant(OAuthError):
    code = "invalid_grant"
    detail = "The credentials or the refresh token are invalid or expired."


class UnsupportedGrantType(OAuthError):
    code = "unsupported_grant_type"
    detail = "Supported grant types: password, refresh_token."


class InvalidScope(OAuthError):
    code = "invalid_scope"
    detail = "The requested scope is unknown."


class InvalidClient(OAuthError):
    status_code = 401
    code = "invalid_client"
    detail = "Client authentication failed."
