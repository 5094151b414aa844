"""Request throttling: moving windows in this process, or in Redis (`limits`) to share them.

Both count the same way, a moving window (the `limits` strategy of that name): a hit is allowed
while fewer than `amount` hits were allowed in the last `window` seconds, and a refused hit does
not count. Redis goes through `limits`. In one process the windows are kept here, not in `limits`'
async memory storage: that storage schedules a sweep of every key after each hit and hands each
key of the sweep to a worker thread, so its CPU grows with the number of client addresses seen in
the last window. Measured at 100 hits a second (limits 5.8): 0.03 cores at one address, 0.7 at
100 addresses within the minute, 0.9 at 10,000; these windows stay under 0.01 at each. Here a
key's old hits are dropped when the key is hit, keys idle for a whole window leave a
`cachetools.TTLCache` as it is used, and the cache holds at most `LOCAL_KEYS_KEPT` keys per limit
(the least recently hit go first), so memory is bounded however many addresses a flood comes from.

When the shared storage is unreachable the limiter fails open: throttling is a second line of
defence (per-account lockout stays in PostgreSQL), and a Redis outage must not become an outage of
every login. The outage is logged, at most once a minute so that a flood does not flood the log.
"""

import math
import time
from array import array
from bisect import bisect_right
from collections.abc import Callable
from functools import lru_cache
from typing import NamedTuple, Self
from urllib.parse import urlsplit

import structlog
from cachetools import TTLCache
from limits import RateLimitItem, parse
from limits.aio.storage import Storage
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
# Keys one limit keeps in one process; measured with tracemalloc at 30 hits on each key, about
# 0.7 KiB a key: 70 MiB when full.
LOCAL_KEYS_KEPT = 100_000


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


class LocalWindows:
    """Moving windows kept in this process: per limit and key, the times of the allowed hits."""

    def __init__(
        self, *, keys_kept: int = LOCAL_KEYS_KEPT, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._keys_kept = keys_kept
        self._clock = clock
        self._limits: dict[tuple[int, int], TTLCache[tuple[str, ...], array[float]]] = {}

    def hit(self, item: RateLimitItem, keys: tuple[str, ...]) -> RateLimitDecision:
        window = item.get_expiry()
        hits_by_key = self._limits.get((item.amount, window))
        if hits_by_key is None:
            # Entries live one window after their last allowed hit, when all its hits have aged out.
            hits_by_key = TTLCache(self._keys_kept, ttl=window, timer=self._clock)
            self._limits[(item.amount, window)] = hits_by_key
        now = self._clock()
        hits = hits_by_key.get(keys)
        if hits is None:
            hits = array("d")
        else:
            del hits[: bisect_right(hits, now - window)]
        if len(hits) >= item.amount:
            # A limit of 0 refuses everything, a whole window at a time. Not `now + window - now`:
            # in floating point that can come out a hair above the window, and ceil adds a second.
            wait = hits[0] + window - now if hits else window
            return RateLimitDecision(allowed=False, retry_after=max(1, math.ceil(wait)))
        hits.append(now)
        hits_by_key[keys] = hits  # (re)set, so that its time to live counts from this hit
        return RateLimitDecision(allowed=True)

    def reset(self) -> None:
        self._limits.clear()


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
        self._local = LocalWindows()
        # Any memory URL (`memory://`, `memory://localhost`) means this process's own windows.
        self._shared = (
            None
            if self.storage_url.partition("://")[0] == MEMORY_URL.partition("://")[0]
            else _SharedWindows(self.storage_url, key_prefix, retry_storage_after)
        )

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        """Memory when `TENANTRY_RATE_LIMIT_URL` is unset, else that storage (Redis to share)."""
        return cls(settings.rate_limit_url)

    async def hit(self, limit: str, *keys: str) -> RateLimitDecision:
        """Count one request against `limit` (such as "30/minute") for the combination of keys."""
        item = _parse_limit(limit)
        if self._shared is not None:
            return await self._shared.hit(item, keys)
        return self._local.hit(item, keys)

    async def reset(self) -> None:
        """Forget every counter (in Redis, those under this limiter's prefix); for tests."""
        self._local.reset()
        if self._shared is not None:
            await self._shared.storage.reset()

    async def aclose(self) -> None:
        """Close the shared storage's connections."""
        if self._shared is not None:
            self._shared.close()


class _SharedWindows:
    """Moving windows in a `limits` storage shared by the replicas; fails open while it is down."""

    def __init__(self, url: str, key_prefix: str, retry_storage_after: float) -> None:
        scheme = url.partition("://")[0]
        options: dict[str, float | str | bool] = {"key_prefix": key_prefix}
        if scheme in _REDIS_SCHEMES:
            options["connect_timeout"] = _REDIS_TIMEOUT_SECONDS
            options["stream_timeout"] = _REDIS_TIMEOUT_SECONDS
        storage = storage_from_string(url, wrap_exceptions=True, **options)
        if not isinstance(storage, Storage):
            raise ValueError(f"{scheme} is not an async rate limit storage")
        self.url = url
        self.storage = storage
        self._strategy = MovingWindowRateLimiter(storage)
        self._outage_errors = _outage_errors(storage)
        self._retry_storage_after = retry_storage_after
        self._skip_storage_until = -math.inf
        self._last_outage_log = -math.inf

    async def hit(self, item: RateLimitItem, keys: tuple[str, ...]) -> RateLimitDecision:
        if time.monotonic() < self._skip_storage_until:
            return RateLimitDecision(allowed=True)
        try:
            if await self._strategy.hit(item, *keys):
                return RateLimitDecision(allowed=True)
            stats = await self._strategy.get_window_stats(item, *keys)
        except self._outage_errors as exc:
            self._storage_unavailable(exc)
            return RateLimitDecision(allowed=True)
        return RateLimitDecision(
            allowed=False, retry_after=max(1, math.ceil(stats.reset_time - time.time()))
        )

    def close(self) -> None:
        # limits has no API for it, so reach the client's connection pool.
        client = getattr(getattr(self.storage, "bridge", None), "storage", None)
        pool = getattr(client, "connection_pool", None)
        if pool is not None:
            pool.disconnect()

    def _storage_unavailable(self, exc: BaseException) -> None:
        now = time.monotonic()
        self._skip_storage_until = now + self._retry_storage_after
        if now - self._last_outage_log >= _LOG_OUTAGE_EVERY_SECONDS:
            self._last_outage_log = now
            log.warning(
                "ratelimit.storage_unavailable",
                storage=_describe(self.url),
                error=f"{type(exc).__name__}: {exc}",
            )
