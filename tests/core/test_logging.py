"""Logs: secrets never reach them, and every request leaves one access event to find it by."""

import io
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import Request

from tenantry.core.observability.logging import REDACTED, configure_logging, redact_secrets
from tenantry.core.settings import LogFormat, Settings
from tests.fixtures.app import TenantFactory, client_for, running_app
from tests.fixtures.database import settings_for

JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ1c2VyIn0.c2lnbmF0dXJlLWJ5dGVz"


def redact(**event: Any) -> dict[str, Any]:
    return dict(redact_secrets(None, "info", event))


def test_secret_keys_are_redacted_at_any_depth() -> None:
    event = redact(
        event="user.created",
        user_id="u-1",
        form={"username": "ann", "password": "hunter2-hunter2", "nested": [{"client_secret": "x"}]},
        attempts=[{"refresh_token": "r1"}, {"token_type": "Bearer", "expires_in": 300}],
        smtp_password="mail-secret",
    )
    assert event == {
        "event": "user.created",
        "user_id": "u-1",
        "form": {"username": "ann", "password": REDACTED, "nested": [{"client_secret": REDACTED}]},
        "attempts": [{"refresh_token": REDACTED}, {"token_type": "Bearer", "expires_in": 300}],
        "smtp_password": REDACTED,
    }


def test_key_names_match_whatever_their_case_or_separator() -> None:
    event = redact(
        PASSWORD="a", headers={"Authorization": "b", "X-Api-Key": "c", "Set-Cookie": "d"}
    )
    assert event == {
        "PASSWORD": REDACTED,
        "headers": {"Authorization": REDACTED, "X-Api-Key": REDACTED, "Set-Cookie": REDACTED},
    }


def test_authorization_headers_as_pairs_and_inside_text() -> None:
    event = redact(
        asgi_headers=[(b"host", b"acme.example"), (b"authorization", b"Bearer abcdefgh12345")],
        httpx_headers=[("Proxy-Authorization", "Basic dXNlcjpwYXNz")],
        detail="upstream refused Authorization: Bearer abcdefgh12345 for acme",
        note=f"token was {JWT}",
        error="could not connect to postgresql://tenantry:pg-secret@db:5432/tenantry",
    )
    assert event["asgi_headers"] == [[b"host", b"acme.example"], [b"authorization", REDACTED]]
    assert event["httpx_headers"] == [["Proxy-Authorization", REDACTED]]
    assert event["detail"] == f"upstream refused Authorization: Bearer {REDACTED} for acme"
    assert event["note"] == f"token was {REDACTED}"
    assert (
        event["error"] == f"could not connect to postgresql://tenantry:{REDACTED}@db:5432/tenantry"
    )
    rendered = json.dumps(event, default=repr)
    for secret in ("abcdefgh12345", "dXNlcjpwYXNz", "pg-secret", "c2lnbmF0dXJl"):
        assert secret not in rendered


def test_ordinary_fields_are_untouched() -> None:
    fields = {
        "event": "http.request",
        "status": 401,
        "route": "/api/v1/oauth/token",
        "token_type": "Bearer",
        "tokens_issued": 2,
        "error_code": "invalid_grant",
    }
    assert redact(**fields) == fields


@contextmanager
def json_logs(settings: Settings) -> Iterator[io.StringIO]:
    """Route the real logging pipeline (JSON renderer included) into a buffer, then restore it."""
    buffer = io.StringIO()
    real_stdout = sys.stdout
    sys.stdout = buffer  # configure_logging writes to whatever sys.stdout is when it runs
    try:
        configure_logging(
            settings.model_copy(update={"log_format": LogFormat.JSON, "log_level": "INFO"})
        )
    finally:
        sys.stdout = real_stdout
    try:
        yield buffer
    finally:
        configure_logging(settings)


def events(buffer: io.StringIO, name: str) -> list[dict[str, Any]]:
    lines = [json.loads(line) for line in buffer.getvalue().splitlines() if line.strip()]
    return [line for line in lines if line.get("event") == name]


async def test_access_event_carries_what_finds_a_request_again(
    database_url: str, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant()
    settings = settings_for(database_url)
    async with running_app(settings) as app, client_for(app) as http:

        @app.get("/api/v1/_whoami/{name}")
        async def whoami(name: str, request: Request) -> dict[str, str]:
            request.state.user_id = "user-42"  # what the authentication dependency records
            return {"name": name}

        with json_logs(settings) as buffer:
            given = await http.get(
                "/api/v1/_whoami/ann",
                headers={"X-Tenant": tenant.slug, "X-Request-ID": "req-abc.123"},
            )
            generated = await http.get("/healthz")

    assert given.headers["x-request-id"] == "req-abc.123"
    first, second = events(buffer, "http.request")
    assert first["request_id"] == "req-abc.123"
    assert {key: first[key] for key in ("tenant", "user_id", "method", "route", "status")} == {
        "tenant": tenant.slug,
        "user_id": "user-42",
        "method": "GET",
        "route": "/api/v1/_whoami/{name}",
        "status": 200,
    }
    assert isinstance(first["duration_ms"], float)
    assert first["client_ip"] == "127.0.0.1"
    assert first["level"] == "info"
    assert "timestamp" in first
    assert second["request_id"] == generated.headers["x-request-id"]
    assert len(second["request_id"]) == 32
    assert second["tenant"] is None
    assert second["route"] == "/healthz"
