import asyncio
import socket
import threading
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from limits import parse
from structlog.testing import capture_logs

from tenantry.core.ratelimit import (
    LocalWindows,
    RateLimitDecision,
    RateLimiter,
    limits_storage_url,
)
from tenantry.core.settings import Environment, Settings

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_listening() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=0.5):
            return True
    except OSError:
        return False


needs_redis = pytest.mark.skipif(
    not redis_listening(), reason="no Redis listening on 127.0.0.1:6379 for the shared-counter test"
)


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, "async+memory://"),
        ("", "async+memory://"),
        ("memory://", "async+memory://"),
        ("redis://:pw@cache:6379/0", "async+redis://:pw@cache:6379/0"),
        ("rediss://cache:6380/1", "async+rediss://cache:6380/1"),
        ("async+redis://cache:6379", "async+redis://cache:6379"),
    ],
)
def test_storage_url_translation(url: str | None, expected: str) -> None:
    assert limits_storage_url(url) == expected


def test_storage_url_needs_a_scheme() -> None:
    with pytest.raises(ValueError, match="URL"):
        limits_storage_url("127.0.0.1:6379")


def test_from_settings_defaults_to_memory() -> None:
    limiter = RateLimiter.from_settings(Settings(env=Environment.TEST))

    assert limiter.storage_url == "async+memory://"


async def test_memory_allows_the_limit_then_refuses_with_retry_after() -> None:
    limiter = RateLimiter()

    decisions = [await limiter.hit("3/minute", "10.0.0.1") for _ in range(4)]

    assert decisions[:3] == [RateLimitDecision(True, 0)] * 3
    assert not decisions[3].allowed
    assert 1 <= decisions[3].retry_after <= 60


async def test_memory_keys_are_independent() -> None:
    limiter = RateLimiter()
    await limiter.hit("1/minute", "token", "10.0.0.1")

    assert not (await limiter.hit("1/minute", "token", "10.0.0.1")).allowed
    assert (await limiter.hit("1/minute", "token", "10.0.0.2")).allowed
    assert (await limiter.hit("1/minute", "reset", "10.0.0.1")).allowed
    assert (await limiter.hit("2/minute", "token", "10.0.0.1")).allowed  # a separate limit


async def test_reset_forgets_counters() -> None:
    limiter = RateLimiter()
    await limiter.hit("1/hour", "k")

    await limiter.reset()

    assert (await limiter.hit("1/hour", "k")).allowed


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_local_window_moves_with_time() -> None:
    clock = FakeClock()
    windows = LocalWindows(clock=clock)
    two_a_minute = parse("2/minute")

    def hit_at(offset: float) -> RateLimitDecision:
        clock.now = 1000.0 + offset
        return windows.hit(two_a_minute, ("10.0.0.1",))

    assert hit_at(0).allowed
    assert hit_at(30).allowed
    assert hit_at(31) == RateLimitDecision(False, 29)  # the hit at 0 leaves the window at 60
    assert hit_at(60.5).allowed  # it has left; the refused hit at 31 never counted
    assert hit_at(61) == RateLimitDecision(False, 29)  # now the hit at 30 is the oldest


@pytest.mark.parametrize("now", [0.0, 8174.326235239371])
def test_local_window_of_zero_refuses_everything(now: float) -> None:
    # At the second clock reading, (now + 60) - now is 60.00000000000091: ceil made it 61.
    windows = LocalWindows(clock=lambda: now)
    assert windows.hit(parse("0/minute"), ("10.0.0.1",)) == RateLimitDecision(False, 60)


def test_local_windows_keep_the_most_recently_hit_keys() -> None:
    clock = FakeClock()
    windows = LocalWindows(keys_kept=2, clock=clock)
    once = parse("1/minute")

    assert windows.hit(once, ("attacker",)).allowed
    assert windows.hit(once, ("quiet",)).allowed
    assert not windows.hit(once, ("attacker",)).allowed  # refused, and still the latest hit
    assert windows.hit(once, ("newcomer",)).allowed  # full: the least recently hit key goes

    assert not windows.hit(once, ("attacker",)).allowed
    assert windows.hit(once, ("quiet",)).allowed


@pytest.mark.parametrize("url", [None, "memory://", "memory://localhost", "async+memory:///"])
async def test_memory_throttling_starts_no_task_and_no_thread(url: str | None) -> None:
    # limits' async memory storage swept every key in worker threads after each hit, which cost
    # a core once a hundred addresses were throttled; this limiter does its work inside the hit,
    # whichever spelling of a memory URL configured it.
    limiter = RateLimiter(url)
    threads, tasks = threading.active_count(), len(asyncio.all_tasks())

    for number in range(300):
        await limiter.hit("2/minute", "token", f"10.0.{number // 100}.{number % 100}")
        await limiter.hit("2/minute", "token", "10.9.9.9")

    assert threading.active_count() == threads
    assert len(asyncio.all_tasks()) == tasks


@pytest.fixture
async def redis_limiters() -> AsyncIterator[Callable[[], RateLimiter]]:
    prefix = f"tenantry-test-{uuid.uuid4().hex}"
    made: list[RateLimiter] = []

    def make() -> RateLimiter:
        made.append(RateLimiter(REDIS_URL, key_prefix=prefix, retry_storage_after=0))
        return made[-1]

    yield make
    if made:
        await made[0].reset()
    for limiter in made:
        await limiter.aclose()


@needs_redis
async def test_redis_counters_are_shared_between_replicas(
    redis_limiters: Callable[[], RateLimiter],
) -> None:
    replica_a, replica_b = redis_limiters(), redis_limiters()

    assert (await replica_a.hit("3/minute", "10.0.0.9")).allowed
    assert (await replica_b.hit("3/minute", "10.0.0.9")).allowed
    assert (await replica_a.hit("3/minute", "10.0.0.9")).allowed
    refused = await replica_b.hit("3/minute", "10.0.0.9")

    assert not refused.allowed
    assert 1 <= refused.retry_after <= 60
    assert (await replica_a.hit("3/minute", "10.0.0.10")).allowed


@needs_redis
async def test_redis_reset_clears_only_its_prefix(
    redis_limiters: Callable[[], RateLimiter],
) -> None:
    mine = redis_limiters()
    other = RateLimiter(REDIS_URL, key_prefix=f"tenantry-test-other-{uuid.uuid4().hex}")
    try:
        await mine.hit("1/hour", "k")
        await other.hit("1/hour", "k")

        await mine.reset()

        assert (await mine.hit("1/hour", "k")).allowed
        assert not (await other.hit("1/hour", "k")).allowed
    finally:
        await other.reset()
        await other.aclose()


async def test_unreachable_redis_fails_open_and_logs_once() -> None:
    limiter = RateLimiter("redis://:s3cret@127.0.0.1:1/0", retry_storage_after=0)

    with capture_logs() as logs:
        decisions = [await limiter.hit("1/minute", "10.0.0.1") for _ in range(3)]

    assert decisions == [RateLimitDecision(True, 0)] * 3
    outages = [entry for entry in logs if entry["event"] == "ratelimit.storage_unavailable"]
    assert len(outages) == 1
    assert outages[0]["log_level"] == "warning"
    assert "s3cret" not in str(outages[0])
    await limiter.aclose()


async def test_failing_open_does_not_hide_a_malformed_limit() -> None:
    limiter = RateLimiter("redis://127.0.0.1:1/0")

    with pytest.raises(ValueError, match="couldn't parse"):
        await limiter.hit("thirty per minute", "k")
