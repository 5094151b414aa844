"""Lockout per account, throttling per address, and no user enumeration."""

import statistics
import time
import uuid
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import update

from tenantry.core.clock import utcnow
from tenantry.core.database import Database
from tenantry.core.ratelimit import RateLimiter
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.users.models import User
from tests.fixtures.app import TenantFactory, client_for, running_app, runtime_of
from tests.fixtures.identity import Account, UserFactory, token_request


async def password_login(
    client: httpx.AsyncClient, account: Account, password: str
) -> httpx.Response:
    return await token_request(
        client, account.tenant, grant_type="password", username=account.email, password=password
    )


async def test_lockout_after_threshold_and_unlock_after_window(
    client: httpx.AsyncClient,
    make_tenant: TenantFactory,
    make_user: UserFactory,
    database: Database,
) -> None:
    tenant = await make_tenant(settings={"lockout_threshold": 3, "lockout_minutes": 15})
    account = await make_user(tenant)
    for _ in range(3):
        assert (await password_login(client, account, "wrong-password")).status_code == 400
    locked = await password_login(client, account, account.password)
    assert locked.status_code == 400
    assert locked.json()["error"] == "invalid_grant"  # the same answer: no hint that it exists

    async with database.tenant_session(tenant.schema) as session:
        user = await session.get(User, account.user_id)
        assert user is not None
        assert user.locked_until is not None
        assert timedelta(minutes=14) < user.locked_until - utcnow() <= timedelta(minutes=15)

    # Let the window pass (move the lock into the past rather than sleeping 15 minutes).
    async with database.tenant_transaction(tenant.schema) as session:
        await session.execute(
            update(User).where(User.id == account.user_id).values(locked_until=utcnow())
        )
    assert (await password_login(client, account, account.password)).status_code == 200


async def test_success_resets_the_failure_count(
    client: httpx.AsyncClient, make_tenant: TenantFactory, make_user: UserFactory
) -> None:
    tenant = await make_tenant(settings={"lockout_threshold": 3})
    account = await make_user(tenant)
    for _ in range(2):
        await password_login(client, account, "wrong-password")
    assert (await password_login(client, account, account.password)).status_code == 200
    for _ in range(2):
        await password_login(client, account, "wrong-password")
    assert (await password_login(client, account, account.password)).status_code == 200


async def test_disabled_user_cannot_log_in(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory
) -> None:
    account = await make_user(tenant, status="disabled")
    response = await password_login(client, account, account.password)
    assert response.json()["error"] == "invalid_grant"


async def test_unknown_users_take_as_long_as_wrong_passwords(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory
) -> None:
    """Without the dummy verification an unknown email answers ~20x faster; this would see it."""
    account = await make_user(tenant)
    ghost = Account(tenant, uuid.uuid4(), "ghost@example.com", "x")

    async def timed(target: Account) -> float:
        started = time.perf_counter()
        await password_login(client, target, "wrong-password-123")
        return time.perf_counter() - started

    wrong: list[float] = []
    unknown: list[float] = []
    for _ in range(9):  # interleaved, so a busy machine slows both kinds alike
        wrong.append(await timed(account))
        unknown.append(await timed(ghost))
    ratio = statistics.median(unknown) / statistics.median(wrong)
    assert 0.4 < ratio < 2.5, (wrong, unknown)


def throttled_settings(settings: Settings, limit: str, url: str | None = None) -> Settings:
    return settings.model_copy(update={"rate_limit_token_endpoint": limit, "rate_limit_url": url})


async def test_token_endpoint_is_throttled_per_address(settings: Settings, tenant: Tenant) -> None:
    async with running_app(throttled_settings(settings, "3/minute")) as app:
        async with client_for(app) as http:
            statuses = [
                (
                    await token_request(
                        http, tenant, grant_type="password", username="a@b.c", password="x"
                    )
                ).status_code
                for _ in range(4)
            ]
            refused = await token_request(http, tenant, grant_type="password")
        assert statuses == [400, 400, 400, 429]
        assert refused.status_code == 429
        assert refused.json()["error"] == "rate_limited"
        assert int(refused.headers["retry-after"]) >= 1
        # Another address has its own allowance.
        transport = httpx.ASGITransport(app=app, client=("203.0.113.9", 4000))
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as other:
            response = await token_request(other, tenant, grant_type="password")
        assert response.status_code == 400


def redis_available() -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=1).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(not redis_available(), reason="no Redis server on 127.0.0.1:6379")
async def test_replicas_share_counters_through_redis(settings: Settings, tenant: Tenant) -> None:
    shared = throttled_settings(settings, "3/minute", "redis://127.0.0.1:6379/0")
    prefix = f"tenantry-test-{uuid.uuid4().hex}"
    async with running_app(shared) as first, running_app(shared) as second:
        for app in (first, second):
            # A prefix of this test's own, so reruns and parallel CI runs never share counters.
            await runtime_of(app).limiter.aclose()
            runtime_of(app).limiter = RateLimiter(shared.rate_limit_url, key_prefix=prefix)
        statuses = []
        for app in (first, second, first, second):
            async with client_for(app) as http:
                response = await token_request(http, tenant, grant_type="password")
                statuses.append(response.status_code)
        assert statuses == [400, 400, 400, 429]
        for app in (first, second):
            await runtime_of(app).limiter.reset()
