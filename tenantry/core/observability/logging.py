"""structlog set-up: JSON in production, readable console in development, always to stdout."""

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

from tenantry.core.settings import Environment, Settings

# Keys whose values are secrets, compared lower-cased with "-" read as "_" (header names).
_SECRET_KEYS = frozenset(
    {
        "password", "new_password", "current_password", "token", "access_token",
        "refresh_token", "id_token", "authorization", "secret", "client_secret", "code",
        "signing_keys", "cookie", "set_cookie", "password_hash", "credentials",
        "client_assertion",
    }
)  # fmt: skip
# Any key ending so holds a secret too: smtp_password, reset_token, x_api_key, proxy_authorization.
_SECRET_SUFFIXES = (
    "password", "passwd", "secret", "_token", "api_key", "apikey", "private_key", "secret_key",
    "signing_key", "cookie", "authorization",
)  # fmt: skip
REDACTED = "[redacted]"
# Credentials inside free text (messages, exception strings): an Authorization header value, a
# JWT, the password in a URL such as a database DSN.
_SECRET_PATTERNS = (
    (re.compile(r"(?i)\b(bearer|basic)(\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1\2{REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), REDACTED),
    (re.compile(r"(://[^:/@\s]+:)[^@\s]+@"), rf"\1{REDACTED}@"),
)


def _is_secret_key(key: object) -> bool:
    name = key.decode("latin-1") if isinstance(key, bytes) else str(key)
    name = name.lower().replace("-", "_")
    return name in _SECRET_KEYS or name.endswith(_SECRET_SUFFIXES)


def _redact(value: Any) -> Any:
    if isinstance(value, str):
        for pattern, replacement in _SECRET_PATTERNS:
            value = pattern.sub(replacement, value)
        return value
    if isinstance(value, Mapping):
        return {
            key: REDACTED if _is_secret_key(key) else _redact(item) for key, item in value.items()
        }
    if isinstance(value, list | tuple):
        # A (name, value) pair, as ASGI and httpx carry headers: the name decides.
        if len(value) == 2 and isinstance(value[0], str | bytes) and _is_secret_key(value[0]):
            return [value[0], REDACTED]
        return [_redact(item) for item in value]
    return value


def redact_secrets(
    _logger: object, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Drop secrets wherever they appear in an event: by key at any depth, and inside text."""
    for key in list(event_dict):
        event_dict[key] = REDACTED if _is_secret_key(key) else _redact(event_dict[key])
    return event_dict


def configure_logging(settings: Settings) -> None:
    level = logging.getLevelNamesMapping().get(settings.log_level.upper(), logging.INFO)
    renderer: structlog.typing.Processor = (
        structlog.processors.JSONRenderer()
        if settings.json_logs
        else structlog.dev.ConsoleRenderer(colors=sys.stdout.isatty())
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            # After format_exc_info, so that tracebacks and exception messages are scrubbed too.
            redact_secrets,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        # A cached logger keeps the configuration of its first use; tests reconfigure logging to
        # capture events, so only production caches.
        cache_logger_on_first_use=settings.env is Environment.PRODUCTION,
    )
