"""Where the versioned API lives, and how its errors are documented.

Routers carry the full prefix themselves and are included without one: FastAPI includes routers
lazily, and a prefix given at include time is missing from `scope["route"].path`, which the access
log and the metrics use as the route template.
"""

from typing import Any

from pydantic import BaseModel, Field

API_V1 = "/api/v1"


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str
    type: str | None


class ErrorBody(BaseModel):
    """Every error the API renders: a stable machine-readable code and a message for people."""

    error: str = Field(examples=["not_found"])
    detail: str
    fields: list[FieldError] | None = Field(
        default=None, description="Only with `validation_error` (422): what was wrong, where."
    )


def error_responses(*statuses: int | str) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for errors in the `ErrorBody` shape."""
    return {status: {"model": ErrorBody, "description": _TEXT[status]} for status in statuses}


_TEXT: dict[int | str, str] = {
    # A range, not a list: validation (422), malformed or oversized requests (400, 413, 431) and
    # the like can answer any route. Specific codes are documented where a route has its own.
    "4XX": "Client error; `error` holds the stable code",
    400: "Bad request, or the tenant is missing from the request or named twice differently",
    401: "No valid access token (`invalid_token`), or the session has ended",
    403: "Not allowed (`permission_denied`), or the tenant is suspended",
    404: "No such resource, or no such tenant (`tenant_not_found`)",
    409: "Conflicts with the current state",
    410: "The tenant is being deleted",
    503: "The database is unavailable or too slow (`database_unavailable`); retry later",
}

# Every route: the request limits and validation.
CLIENT_ERRORS = error_responses("4XX")
# Every tenant route: tenant resolution can refuse, and the database can fail.
TENANT_ERRORS = error_responses(400, 403, 404, 410, 503)
# Tenant routes that need an access token.
AUTHENTICATED_ERRORS = error_responses(400, 401, 403, 404, 410, 503)
# Routes that hash a password for anyone who asks wait for a turn, and give up after a while.
PASSWORD_WORK_ERRORS: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorBody,
        "description": "Too many password checks waiting (`temporarily_unavailable`; see "
        "Retry-After), or the database is unavailable (`database_unavailable`)",
    }
}
