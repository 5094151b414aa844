"""Domain errors carry their own HTTP status and a stable machine-readable code.

One handler renders them all as `{"error": code, "detail": message}`. A 500 means a bug.
"""

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException


class TenantryError(Exception):
    """Base of every expected error. Subclasses set `status_code`, `code` and a default `detail`."""

    status_code: ClassVar[int] = 400
    code: ClassVar[str] = "bad_request"
    detail: str = "The request could not be processed."
    # Most errors undo the request's writes. A few must keep them: a failed login still counts
    # towards lockout, and a replayed refresh token still revokes its family.
    keeps_changes: bool = False

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        if detail is not None:
            self.detail = detail
        self.headers = dict(headers or {})
        super().__init__(self.detail)

    def keeping_changes(self) -> "TenantryError":
        """This error, marked so that the request's transaction commits before it is answered."""
        self.keeps_changes = True
        return self

    def body(self) -> dict[str, Any]:
        return {"error": self.code, "detail": self.detail}


class NotFound(TenantryError):
    status_code = 404
    code = "not_found"
    detail = "The resource does not exist."


class Conflict(TenantryError):
    status_code = 409
    code = "conflict"
    detail = "The request conflicts with the current state."


class Forbidden(TenantryError):
    status_code = 403
    code = "forbidden"
    detail = "You are not allowed to do this."


class Unauthorized(TenantryError):
    status_code = 401
    code = "unauthorized"
    detail = "Authentication is required."

    def __init__(self, detail: str | None = None, *, headers: Mapping[str, str] | None = None):
        super().__init__(detail, headers={"WWW-Authenticate": "Bearer", **(headers or {})})


class TooManyRequests(TenantryError):
    status_code = 429
    code = "rate_limited"
    detail = "Too many requests; retry later."


class DatabaseUnavailable(TenantryError):
    status_code = 503
    code = "database_unavailable"
    detail = "The database is unavailable; retry later."


class ValidationFailed(TenantryError):
    """A rule on input that Pydantic cannot express; rendered like request validation errors."""

    status_code = 422
    code = "validation_error"

    def __init__(self, detail: str, *, fields: Sequence[Mapping[str, Any]] = ()):
        super().__init__(detail)
        self.fields = [dict(field) for field in fields]

    def body(self) -> dict[str, Any]:
        return {**super().body(), "fields": self.fields}


def error_response(exc: TenantryError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers or None)


def _validation_fields(errors: Sequence[Any]) -> list[dict[str, Any]]:
    # The offending `input` is left out on purpose: it may be a password or a token.
    return [
        {"loc": list(error.get("loc", ())), "msg": error.get("msg", ""), "type": error.get("type")}
        for error in errors
    ]


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def is_database_outage(exc: BaseException) -> bool:
    """True for errors that mean "the database is down or too slow", not "the query is wrong"."""
    # PoolTimeout: every pooled connection is busy (a slow or recovering database) for longer
    # than the pool timeout. It is not a DBAPIError, and it is no bug.
    if isinstance(exc, OSError | TimeoutError | ConnectionError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError):
        if exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError):
            return True
        # asyncpg's QueryCanceledError: statement_timeout fired.
        return getattr(exc.orig, "sqlstate", None) in {"57014", "57P01", "57P02", "57P03"}
    return False


# PostgreSQL stores no NUL (U+0000) in text or jsonb: 22021 character_not_in_repertoire,
# 22P05 untranslatable_character. The input is at fault, wherever it came from (a field, a filter,
# a cursor), so the answer is a 422 rather than a 500.
_UNSTORABLE_TEXT = frozenset({"22021", "22P05"})


def is_unstorable_text(exc: BaseException) -> bool:
    """True for a statement refused because its input holds text PostgreSQL cannot store."""
    return isinstance(exc, DBAPIError) and (getattr(exc.orig, "sqlstate", None) in _UNSTORABLE_TEXT)


def install_error_handlers(app: FastAPI) -> None:
    """Render every error in the one documented shape."""

    async def tenantry_error(_: Request, exc: Exception) -> JSONResponse:
        return error_response(cast(TenantryError, exc))

    async def validation_error(_: Request, exc: Exception) -> JSONResponse:
        errors = cast(RequestValidationError, exc).errors()
        body = ValidationFailed("The request is invalid.", fields=_validation_fields(errors))
        return error_response(body)

    async def http_error(_: Request, raised: Exception) -> JSONResponse:
        exc = cast(StarletteHTTPException, raised)
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            {"error": code, "detail": str(exc.detail)},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    async def database_error(request: Request, exc: Exception) -> JSONResponse:
        if is_database_outage(exc):
            return error_response(DatabaseUnavailable())
        if is_unstorable_text(exc):
            return error_response(ValidationFailed("Text may not contain NUL (U+0000) characters."))
        raise exc

    app.add_exception_handler(TenantryError, tenantry_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(DBAPIError, database_error)
    app.add_exception_handler(OSError, database_error)
    app.add_exception_handler(PoolTimeout, database_error)
