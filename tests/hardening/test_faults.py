"""PostgreSQL failing under the app: stopped (crashed) during a write load, and slow.

The outage test runs its own durable server (fsync on, as in production), so "acknowledged" means
what it means there: a 201 is a committed row that survives a crash.
"""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from tempfile import mkdtemp

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from tenantry.core.database import Database
from tenantry.core.notify import asyncpg_dsn
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tenantry.devdb import EmbeddedPostgres
from tenantry.platform.tenants.service import tenant_service
from tenantry.tenants.roles.service import role_service
from tenantry.tenants.users.models import User
from tests.fixtures.app import TenantFactory, client_for, running_app, runtime_of
from tests.fixtures.database import migrate, settings_for
from tests.fixtures.identity import DEFAULT_PASSWORD, Account, RoleUserFactory, login

WRITERS = 40
CHEAP_HASHING = {"password_hash_memory_kib": 8192, "password_hash_time_cost": 1}


@pytest.fixture(scope="module")
def durable_server() -> Iterator[EmbeddedPostgres]:
    server = EmbeddedPostgres(Path(mkdtemp(prefix="tenantry-fault-pg-")), durable=True)
    server.start()
    yield server
    server.destroy()


@pytest.fixture
async def outage_app(durable_server: EmbeddedPostgres) -> AsyncIterator[FastAPI]:
    url = settings_for(durable_server.url()).database_url or ""
    await migrate(url)
    settings = settings_for(
        url,
        database_pool_size=5,
        database_max_overflow=10,
        database_pool_timeout=2.0,
        readiness_timeout_seconds=1.0,
        **CHEAP_HASHING,
    )
    async with running_app(settings) as app:
        yield app


async def provision_owner(database: Database, hasher_app: FastAPI) -> Account:
    runtime = runtime_of(hasher_app)
    async with database.platform_transaction() as session:
        record = await tenant_service.provision(
            session, slug=f"t-{uuid.uuid4().hex[:10]}", display_name="Faulty Org"
        )
        tenant = record.to_tenant()
    email = "owner@faulty.example"
    async with database.tenant_transaction(tenant.schema) as session:
        owner = User(
            email=email,
            password_hash=await runtime.hasher.hash(DEFAULT_PASSWORD),
            email_verified=True,
        )
        session.add(owner)
        await session.flush()
        await role_service.grant_builtin(session, owner, "owner")
        owner_id = owner.id
    return Account(tenant, owner_id, email, DEFAULT_PASSWORD)


@dataclass
class Outcome:
    status: int
    body: str
    user_id: str | None = None


@dataclass
class Load:
    """Writers creating users until told to stop; every answer is kept."""

    http: httpx.AsyncClient
    headers: dict[str, str]
    outcomes: list[Outcome] = field(default_factory=list)
    stop: asyncio.Event = field(default_factory=asyncio.Event)

    async def writer(self, number: int) -> None:
        sequence = 0
        while not self.stop.is_set():
            sequence += 1
            body = {"email": f"w{number}-{sequence}@load.example", "password": DEFAULT_PASSWORD}
            response = await self.http.post("/api/v1/users", json=body, headers=self.headers)
            user_id = response.json().get("id") if response.status_code == 201 else None
            self.outcomes.append(Outcome(response.status_code, response.text, user_id))
            if response.status_code != 201:
                await asyncio.sleep(0.02)  # as a client backing off; keeps the log readable

    def since(self, mark: int) -> list[Outcome]:
        return self.outcomes[mark:]

    async def acknowledged(self, count: int, *, since: int = 0, within: float = 10) -> None:
        """Wait for `count` 201s after the `since` mark, so a slow machine still writes some."""
        deadline = time.monotonic() + within
        while sum(o.status == 201 for o in self.since(since)) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"fewer than {count} writes acknowledged in {within}s")
            await asyncio.sleep(0.05)


async def until_ready(http: httpx.AsyncClient, *, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if (await http.get("/readyz")).status_code == 200:
            return time.monotonic() - started
        await asyncio.sleep(0.1)
    raise AssertionError(f"/readyz did not answer 200 within {within}s")


async def test_crash_and_restart_under_write_load(
    outage_app: FastAPI, durable_server: EmbeddedPostgres
) -> None:
    database = runtime_of(outage_app).database
    account = await provision_owner(database, outage_app)
    async with client_for(outage_app, timeout=30) as http:
        owner = await login(http, account)
        load = Load(http, owner.headers)
        writers = [asyncio.create_task(load.writer(number)) for number in range(WRITERS)]
        try:
            await load.acknowledged(WRITERS)
            before = len(load.outcomes)
            # An immediate stop is a crash: no checkpoint, the restart replays the WAL.
            await asyncio.to_thread(durable_server.stop, mode="immediate")
            down = await http.get("/readyz")
            await asyncio.sleep(1.0)
            during = len(load.outcomes)
            await asyncio.to_thread(durable_server.start)
            recovery = await until_ready(http, within=10)
            after_restart = len(load.outcomes)
            await load.acknowledged(WRITERS, since=after_restart)
        finally:
            load.stop.set()
            await asyncio.gather(*writers)

        assert down.status_code == 503
        assert down.json() == {"status": "unavailable", "reason": "database_unreachable"}
        statuses = {outcome.status for outcome in load.outcomes}
        assert statuses <= {201, 503}, [o for o in load.outcomes if o.status not in {201, 503}][:3]
        failed = [outcome for outcome in load.outcomes if outcome.status == 503]
        assert failed, "the outage went unnoticed"
        for outcome in failed:
            assert '"error":"database_unavailable"' in outcome.body
            assert "Traceback" not in outcome.body
        assert any(o.status == 201 for o in load.outcomes[:before]), "no write before the crash"
        assert all(o.status == 503 for o in load.outcomes[before + WRITERS : during])
        assert any(o.status == 201 for o in load.since(after_restart)), "no write after restart"
        assert recovery < 10

        # No acknowledged write lost: every 201 reads back, through the same app instance.
        acknowledged = [o.user_id for o in load.outcomes if o.status == 201]
        async with database.tenant_session(account.tenant.schema) as session:
            rows = {str(user_id) for user_id in await session.scalars(select(User.id))}
        lost = [user_id for user_id in acknowledged if user_id not in rows]
        assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged users are gone"
        sample = acknowledged[: len(acknowledged) // 3 : 3] + acknowledged[-3:]
        for user_id in sample:
            read = await http.get(f"/api/v1/users/{user_id}", headers=owner.headers)
            assert read.status_code == 200, read.text


@pytest.fixture
async def slow_org(
    settings: Settings, make_tenant: TenantFactory, make_admin: RoleUserFactory
) -> tuple[Tenant, Account]:
    tenant = await make_tenant()
    return tenant, await make_admin(tenant, "owner")


async def test_slow_database_answers_503_within_the_statement_timeout(
    settings: Settings, database_url: str, slow_org: tuple[Tenant, Account]
) -> None:
    tenant, account = slow_org
    timeout_ms = 50
    tight = settings.model_copy(update={"database_statement_timeout_ms": timeout_ms})
    async with running_app(tight) as app, client_for(app) as http:
        owner = await login(http, account)
        assert (await http.get("/api/v1/users/me", headers=owner.headers)).status_code == 200
        blocker = await asyncpg.connect(asyncpg_dsn(database_url))
        try:
            # Another transaction holds the users table: every statement on it waits.
            locked = blocker.transaction()
            await locked.start()
            await blocker.execute(f'LOCK TABLE "{tenant.schema}".users IN ACCESS EXCLUSIVE MODE')
            started = time.monotonic()
            async with asyncio.timeout(10):  # without a statement timeout: as long as the lock
                response = await http.get("/api/v1/users/me", headers=owner.headers)
            elapsed = time.monotonic() - started
            await locked.rollback()
        finally:
            await blocker.close()
        assert response.status_code == 503
        assert response.json()["error"] == "database_unavailable"
        # The timeout plus a margin for the request around it; without the timeout it would wait
        # for the lock as long as the other transaction kept it.
        assert elapsed < timeout_ms / 1000 + 0.75, elapsed
        assert (await http.get("/api/v1/users/me", headers=owner.headers)).status_code == 200
