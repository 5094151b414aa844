import socket
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
from structlog.testing import capture_logs

from tenantry.core.ratelimit import RateLimitDecision, RateLimiter, limits_storage_url
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
