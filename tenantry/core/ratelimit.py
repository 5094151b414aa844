"""Request throttling with the `limits` library: in memory, or in Redis to share across replicas.

When the shared storage is unreachable the limiter fails open: throttling is a second line of
defence (per-account lockout stays in PostgreSQL), and a Redis outage must not become an outage of
every login. The outage is logged, at most once a minute so that a flood does not flood the log.
"""

import math
import time
from functools import lru_cache
from typing import NamedTuple, Self
from urllib.parse import urlsplit

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.errors import StorageError
from limits.storage import storage_from_string

from tenantry.core.settings import Settings

log = structlog.get_logger(__name__)

MEMORY_URL = "async+memory://"
# Schemes served by limits' RedisStorage through coredis, which takes these timeouts.
_REDIS_SCHEMES = frozenset({"async+redis", "async+rediss", "async+redis+unix"})
# A throttle check that waits longer than this has already hurt the login it guards.
_REDIS_TIMEOUT_SECONDS = 0.5
# After a failure, skip the storage for a while instead of paying a timeout on every request.
_RETRY_STORAGE_AFTER_SECONDS = 5.0
_LOG_OUTAGE_EVERY_SECONDS = 60.0


class RateLimitDecision(NamedTuple):
    allowed: bool
    retry_after: int = 0  # seconds until a retry can succeed; >= 1 when refused


def limits_storage_url(url: str | None) -> str:
    """The async `limits` storage URL for a user-facing one: `redis://` → `async+redis://`."""
    if not url:
        return MEMORY_URL
    scheme, separator, rest = url.partition("://")
    if not separator:
        raise ValueError(f"rate limit storage must be a URL such as redis://host:6379/0: {url!r}")
    if scheme.startswith("async+"):
        return url
    return f"async+{scheme}://{rest}"


def _describe(url: str) -> str:
    """Scheme, host and port only: the URL may carry a Redis password."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def _outage_errors(storage: Storage) -> tuple[type[BaseException], ...]:
    # limits wraps only some storage calls in StorageError (not the moving-window ones), so the
    # client library's own errors and plain socket failures are caught as well.
    base = storage.base_exceptions
    return (StorageError, *(base if isinstance(base, tuple) else (base,)), OSError, TimeoutError)


@lru_cache(maxsize=64)
def _parse_limit(limit: str) -> RateLimitItem:
    return parse(limit)


class RateLimiter:
    """Moving-window limits keyed by caller-chosen strings (IP, account, tenant)."""

    def __init__(
        self,
        url: str | None = None,
        *,
        key_prefix: str = "tenantry",
        retry_storage_after: float = _RETRY_STORAGE_AFTER_SECONDS,
    ) -> None:
        self.storage_url = limits_storage_url(url)
        scheme = self.storage_url.partition("://")[0]
        options: dict[str, float | str | bool] = {}
        if scheme in _REDIS_SCHEMES:
            options = {
                "connect_timeout": _REDIS_TIMEOUT_SECONDS,
                "stream_timeout": _REDIS_TIMEOUT_SECONDS,
            }
        if scheme != "async+memory":
            options["key_prefix"] = key_prefix
        storage = storage_from_string(self.storage_url, wrap_exceptions=True, **options)
        if not isinstance(storage, Storage):
            raise ValueError(f"{scheme} is not an async rate limit storage")
        self._storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._fails_open = not isinstance(storage, MemoryStorage)
        self._outage_errors = _outage_errors(storage)
        self._retry_storage_after = retry_storage_after
        self._skip_storage_until = -math.inf
        self._last_outage_log = -math.inf

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Memory when `TENANTRY_RATE_LIMIT_URL` is unset, else that storage (Redis to share)."""
        return cls(settings.rate_limit_url)

    async def hit(self, limit: str, *keys: str) -> RateLimitDecision:
        """Count one request against `limit` (such as "30/minute") for the combination of keys."""
        item = _parse_limit(limit)
        if not self._fails_open:
            return await self._hit(item, keys)
        if time.monotonic() < self._skip_storage_until:
            return RateLimitDecision(allowed=True)
        try:
            return await self._hit(item, keys)
        except self._outage_errors as exc:
            self._storage_unavailable(exc)
            return RateLimitDecision(allowed=True)

    async def reset(self) -> None:
        """Forget every counter under this limiter's prefix (for tests)."""
        await self._storage.reset()

    async def aclose(self) -> None:
        """Close the storage's connections; limits has no API for it, so reach the client pool."""
        client = getattr(getattr(self._storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()

    async def _hit(self, item: RateLimitItem, keys: tuple[str, ...]) -> RateLimitDecision:
        if await self._strategy.hit(item, *keys):
            return RateLimitDecision(allowed=True)
        stats = await self._strategy.get_window_stats(item, *keys)
        return RateLimitDecision(
            allowed=False, retry_after=max(1, math.ceil(stats.reset_time - time.time()))
        )

    def _storage_unavailable(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._skip_storage_until = now + self._retry_storage_after
        if now - self._last_outage_log >= _LOG_OUTAGE_EVERY_SECONDS:
            self._last_outage_log = now
            log.warning(
                "ratelimit.storage_unavailable",
                storage=_describe(self.storage_url),
                error=f"{type(exc).__name__}: {exc}",
            )
