"""A flood of password logins waits for the hasher without holding database connections.

Each login keeps its pooled connection from its first query until it answers, and the password
check sits in between. Without admission, every login waiting for a hashing thread held a
connection, so a flood of logins (any tenant, no credentials needed) left no connection for
anything else and every other request of every tenant failed with 503 `database_unavailable`.
Sign-ups hash for anyone who asks too, so they take a turn as well. The hashing threads are held
shut here with a gate, so a flood lasts as long as the test needs.
"""

import asyncio
import os
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from pydantic import ValidationError

from tenantry.core.database import Database
from tenantry.core.security.passwords import PasswordHasher, default_check_slots
from tenantry.core.settings import Settings
from tenantry.tenants.users.repository import UserRepository
from tests.fixtures.app import TenantFactory, client_for, running_app, runtime_of
from tests.fixtures.identity import Account, UserFactory, login, token_request

POOL = 3
SLOTS = 2
FLOOD = 8
CORES = os.cpu_count() or 1


class GatedExecutor(ThreadPoolExecutor):
    """Hashing threads that start no work until the gate opens; counts what was handed in."""

    def __init__(self) -> None:
        super().__init__(max_workers=2, thread_name_prefix="gated-hash")
        self.gate = threading.Event()
        self.submitted = 0

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        self.submitted += 1

        def gated() -> Any:
            self.gate.wait(timeout=30)
            return fn(*args, **kwargs)

        return super().submit(gated)


@pytest.fixture
async def small_pool_app(settings: Settings) -> AsyncIterator[FastAPI]:
    narrow = settings.model_copy(
        update={
            "database_pool_size": POOL,
            "database_max_overflow": 0,
            "database_pool_timeout": 1.0,
            "password_check_slots": SLOTS,
            "password_check_wait_seconds": 20.0,
        }
    )
    async with running_app(narrow) as app:
        yield app


def gate_hashing(app: FastAPI, slots: int = SLOTS, wait: float = 20.0) -> GatedExecutor:
    """The app's hasher, rebuilt on hashing threads that wait for the gate."""
    runtime = runtime_of(app)
    settings = runtime.settings
    executor = GatedExecutor()
    runtime.hasher = PasswordHasher(
        memory_kib=settings.password_hash_memory_kib,
        time_cost=settings.password_hash_time_cost,
        parallelism=settings.password_hash_parallelism,
        executor=executor,
        slots=slots,
        slot_wait_seconds=wait,
    )
    return executor


async def until(condition: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        await asyncio.sleep(0.01)


def password_grant(client: httpx.AsyncClient, account: Account) -> "asyncio.Task[httpx.Response]":
    return asyncio.create_task(
        token_request(
            client,
            account.tenant,
            grant_type="password",
            username=account.email,
            password=account.password,
        )
    )


async def test_a_login_flood_leaves_connections_for_other_requests(
    small_pool_app: FastAPI, make_tenant: TenantFactory, make_user: UserFactory
) -> None:
    app = small_pool_app
    flooded, other = await make_tenant(), await make_tenant()
    target, bystander = await make_user(flooded), await make_user(other)
    async with client_for(app) as client:
        reader = await login(client, bystander)
        executor = gate_hashing(app)
        flood = [password_grant(client, target) for _ in range(FLOOD)]
        try:
            await until(lambda: executor.submitted >= SLOTS)
            await asyncio.sleep(0.2)  # time for any login past the slots to reach the pool
            pool = runtime_of(app).database.engine.pool
            assert pool.checkedout() <= SLOTS  # type: ignore[attr-defined]
            assert executor.submitted == SLOTS
            me = await client.get("/api/v1/users/me", headers=reader.headers)
            assert me.status_code == 200, me.text
        finally:
            executor.gate.set()
        answers = await asyncio.gather(*flood)
    assert [answer.status_code for answer in answers] == [200] * FLOOD
    executor.shutdown()


async def test_a_login_that_waits_too_long_answers_503_and_retry_after(
    small_pool_app: FastAPI, make_tenant: TenantFactory, make_user: UserFactory
) -> None:
    app = small_pool_app
    account = await make_user(await make_tenant())
    executor = gate_hashing(app, slots=1, wait=0.3)
    async with client_for(app) as client:
        first = password_grant(client, account)
        try:
            await until(lambda: executor.submitted == 1)
            refused = await password_grant(client, account)
        finally:
            executor.gate.set()
        assert (await first).status_code == 200
        assert refused.status_code == 503
        assert refused.json()["error"] == "temporarily_unavailable"
        assert refused.headers["Retry-After"] == "1"
        assert account.password not in refused.text
        # The refused login never reached the hasher, and the next one gets its turn.
        assert executor.submitted == 1
        assert (await password_grant(client, account)).status_code == 200
        metrics = (await client.get("/metrics")).text
    assert 'tenantry_logins_total{outcome="busy",tenant=""}' in metrics
    executor.shutdown()


async def test_sign_ups_wait_for_a_turn_too(
    small_pool_app: FastAPI,
    make_tenant: TenantFactory,
    make_user: UserFactory,
    database: Database,
) -> None:
    tenant = await make_tenant(settings={"signup": "open"})
    account = await make_user(tenant)
    executor = gate_hashing(small_pool_app, slots=1, wait=0.3)
    email = f"new-{uuid.uuid4().hex[:8]}@example.com"
    async with client_for(small_pool_app) as client:
        first = password_grant(client, account)
        try:
            await until(lambda: executor.submitted == 1)
            refused = await client.post(
                "/api/v1/auth/register",
                json={"email": email, "password": "a long enough passphrase"},
                headers={"X-Tenant": tenant.slug},
            )
        finally:
            executor.gate.set()
        assert (await first).status_code == 200
    assert refused.status_code == 503
    assert refused.json()["error"] == "temporarily_unavailable"
    assert executor.submitted == 1
    async with database.tenant_session(tenant.schema) as session:
        assert await UserRepository(session).get_by_email(email) is None
    executor.shutdown()


def test_the_slots_must_leave_connections_to_the_rest(settings: Settings) -> None:
    with pytest.raises(ValidationError, match="password_check_slots"):
        Settings(**{**settings.model_dump(), "password_check_slots": settings.database_pool_size})


@pytest.mark.parametrize(("pool", "expected"), [(1, 1), (3, 1), (4, 2), (100, 2 * CORES)])
def test_the_default_slots_keep_half_the_pool(pool: int, expected: int) -> None:
    assert default_check_slots(pool) == expected
