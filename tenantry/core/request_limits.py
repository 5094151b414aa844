"""Pure-ASGI middleware that refuses oversized and ambiguous requests before anything reads them.

Uvicorn and FastAPI accept a request body of any size by default, and how large a header block may
be depends on the HTTP parser uvicorn runs (h11 stops at 16 KiB; httptools has limits of its own).
The limits here hold whatever serves the app, and they answer before tenant resolution, so a
refused request costs no database work.
"""

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from tenantry.core.errors import TenantryError, error_response

# h11's default limit on the request line and headers together (what uvicorn with h11 enforces).
MAX_HEADER_BYTES = 16 * 1024
# Headers a request must not repeat: a proxy and the app could each believe another copy (RFC 9110
# section 5.3: only list-valued fields may repeat), which is how requests get smuggled, tenants
# confused and tokens swapped.
SINGLETON_HEADERS = frozenset(
    {b"host", b"content-length", b"content-type", b"authorization", b"x-tenant"}
)
# A Content-Length longer than this is over any limit (and int() refuses over 4300 digits).
_MAX_LENGTH_DIGITS = 18


class PayloadTooLarge(TenantryError):
    status_code = 413
    code = "payload_too_large"
    detail = "The request body is too large."


class HeadersTooLarge(TenantryError):
    status_code = 431
    code = "headers_too_large"
    detail = "The request headers are too large."


class MalformedRequest(TenantryError):
    status_code = 400
    code = "malformed_request"
    detail = "The request repeats a header that must appear once, or its Content-Length is invalid."


class _BodyTooLarge(HTTPException):
    # Raised from `receive` inside the route: FastAPI re-raises HTTPException from body parsing
    # (anything else becomes a 400), and the error handler renders it as `payload_too_large`.
    def __init__(self) -> None:
        super().__init__(status_code=413, detail=PayloadTooLarge.detail)


class RequestLimitsMiddleware:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        refusal = self._refusal(scope["headers"])
        if refusal is None and _has_header(scope["headers"], b"transfer-encoding"):
            # A chunked body declares no length: read it (up to the limit) before anything else
            # runs, so that an oversized one is refused as early as a declared one.
            messages = await self._read_body(receive)
            if messages is None:
                refusal = PayloadTooLarge()
            else:
                receive = _replay(messages, receive)
        if refusal is not None:
            await error_response(refusal)(scope, receive, send)
            return
        await self.app(scope, self._counted(receive), send)

    async def _read_body(self, receive: Receive) -> list[Message] | None:
        messages: list[Message] = []
        size = 0
        while True:
            message = await receive()
            messages.append(message)
            if message["type"] != "http.request":
                return messages
            size += len(message.get("body", b""))
            if size > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                return messages

    def _counted(self, receive: Receive) -> Receive:
        # Servers hold a body to its Content-Length; this holds one that came with neither header.
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_bytes:
                    raise _BodyTooLarge()
            return message

        return counted

    def _refusal(self, headers: list[tuple[bytes, bytes]]) -> TenantryError | None:
        size = 0
        seen: set[bytes] = set()
        for name, value in headers:
            size += len(name) + len(value) + 4  # ": " and CRLF, as on the wire
            if name in SINGLETON_HEADERS:
                if name in seen:
                    return MalformedRequest()
                seen.add(name)
        if size > MAX_HEADER_BYTES:
            return HeadersTooLarge()
        declared = dict(headers).get(b"content-length")
        if declared is None:
            return None
        if not declared.isdigit():
            return MalformedRequest()
        if len(declared) > _MAX_LENGTH_DIGITS or int(declared) > self.max_body_bytes:
            return PayloadTooLarge()
        return None


def _has_header(headers: list[tuple[bytes, bytes]], name: bytes) -> bool:
    return any(key == name for key, _ in headers)


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(messages)

    async def replayed() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return replayed
