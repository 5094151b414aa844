"""A registry change drops the directory entries it concerns, and no others (platform 0004)."""

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from sqlalchemy import delete, text

from tenantry.core.database import Database
from tenantry.core.notify import PgListener, asyncpg_dsn
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant, TenantStatus
from tenantry.core.tenancy.directory import TENANTS_CHANNEL, TenantDirectory, changed_keys
from tenantry.platform.tenants.models import TenantDomain
from tenantry.platform.tenants.repository import RegistryTenantSource
from tests.fixtures.app import TenantFactory, add_tenant_domain, set_tenant_status


class CountingSource:
    """The registry, counting the look-ups that reach it."""

    def __init__(self, database: Database) -> None:
        self._registry = RegistryTenantSource(database)
        self.calls: list[tuple[str, str]] = []

    async def by_slug(self, slug: str) -> Tenant | None:
        self.calls.append(("slug", slug))
        return await self._registry.by_slug(slug)

    async def by_domain(self, hostname: str) -> Tenant | None:
        self.calls.append(("domain", hostname))
        return await self._registry.by_domain(hostname)


@pytest.fixture
async def listener(settings: Settings) -> AsyncIterator[PgListener]:
    assert settings.database_url is not None
    listener = PgListener(asyncpg_dsn(settings.database_url))
    yield listener
    await listener.stop()


@pytest.fixture
def source(database: Database) -> CountingSource:
    return CountingSource(database)


@pytest.fixture
async def directory(source: CountingSource, listener: PgListener) -> TenantDirectory:
    directory = TenantDirectory(source, listener, ttl=300, maxsize=100)
    # Started after the directory subscribed: the listener LISTENs on the channels it knows.
    await listener.start()
    return directory


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 2.0) -> bool:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not await check():
        if loop.time() > deadline:
            return False
        await asyncio.sleep(0.02)
    return True


async def settle(listener: PgListener, database: Database) -> None:
    """Return once every notification committed so far has reached the listener's handlers.

    PostgreSQL delivers a channel's notifications in commit order, and the listener hands each
    to its handlers before the next: when a marker sent now arrives, the earlier ones are done.
    """
    marker = f'{{"slugs": ["settled-{uuid.uuid4().hex}"], "hostnames": []}}'
    arrived = asyncio.Event()
    listener.subscribe(
        TENANTS_CHANNEL, lambda payload: arrived.set() if payload == marker else None
    )
    async with database.platform_transaction() as session:
        await session.execute(
            text("SELECT pg_notify(:channel, :payload)"),
            {"channel": TENANTS_CHANNEL, "payload": marker},
        )
    await asyncio.wait_for(arrived.wait(), 5)


async def test_suspending_one_tenant_keeps_the_others_cached(
    directory: TenantDirectory,
    source: CountingSource,
    listener: PgListener,
    database: Database,
    make_tenant: TenantFactory,
) -> None:
    first, second = await make_tenant(), await make_tenant()
    await add_tenant_domain(database, first, f"login.{first.slug}.example.com")
    await settle(listener, database)  # the set-up's own notifications must not count below
    for tenant in (first, second):
        assert await directory.by_slug(tenant.slug) == tenant
    assert await directory.by_domain(f"login.{first.slug}.example.com") == first
    source.calls.clear()

    await set_tenant_status(database, first, TenantStatus.SUSPENDED)

    async def first_suspended() -> bool:
        found = await directory.by_slug(first.slug)
        return found is not None and found.status is TenantStatus.SUSPENDED

    assert await eventually(first_suspended)
    # By its custom domain too: the tenant row's notification names the tenant's domains.
    by_domain = await directory.by_domain(f"login.{first.slug}.example.com")
    assert by_domain is not None
    assert by_domain.status is TenantStatus.SUSPENDED
    assert await directory.by_slug(second.slug) == second
    assert ("slug", second.slug) not in source.calls, "an unrelated change evicted a tenant"


async def test_a_new_tenant_and_a_new_domain_replace_cached_misses(
    directory: TenantDirectory, database: Database, make_tenant: TenantFactory
) -> None:
    slug = f"t{uuid.uuid4().hex[:12]}"
    assert await directory.by_slug(slug) is None  # cached as unknown
    created = await make_tenant(slug)
    assert await eventually(lambda: _is(directory.by_slug(slug), created))

    hostname = f"sso.{slug}.example.com"
    assert await directory.by_domain(hostname) is None
    await add_tenant_domain(database, created, hostname)
    assert await eventually(lambda: _is(directory.by_domain(hostname), created))

    async with database.platform_transaction() as session:
        await session.execute(delete(TenantDomain).where(TenantDomain.hostname == hostname))
    assert await eventually(lambda: _is(directory.by_domain(hostname), None))


async def test_a_notification_it_cannot_read_clears_everything(
    directory: TenantDirectory,
    source: CountingSource,
    listener: PgListener,
    database: Database,
    tenant: Tenant,
) -> None:
    await settle(listener, database)
    assert await directory.by_slug(tenant.slug) == tenant
    source.calls.clear()
    async with database.platform_transaction() as session:
        # What revision 0001's trigger sent, as replicas of the previous version still may.
        await session.execute(text(f"NOTIFY {TENANTS_CHANNEL}, 'tenants'"))

    async def looked_up_again() -> bool:
        await directory.by_slug(tenant.slug)
        return ("slug", tenant.slug) in source.calls

    assert await eventually(looked_up_again)


async def _is(lookup: Awaitable[Tenant | None], expected: Tenant | None) -> bool:
    return await lookup == expected


@pytest.mark.parametrize(
    ("payload", "keys"),
    [
        ('{"slugs": ["acme"], "hostnames": []}', [("slug", "acme")]),
        (
            '{"slugs": ["old", "new"], "hostnames": ["sso.acme.com"]}',
            [("slug", "old"), ("slug", "new"), ("domain", "sso.acme.com")],
        ),
        (
            '{"slugs": [], "hostnames": ["a.example.com", "b.example.com"]}',
            [("domain", "a.example.com"), ("domain", "b.example.com")],
        ),
        ("tenants", None),
        ("tenant_domains", None),
        ("", None),
        ('["acme"]', None),
        ('{"slugs": ["acme"]}', None),
        ('{"slugs": [1], "hostnames": []}', None),
        ('{"slugs": "acme", "hostnames": []}', None),
    ],
)
def test_changed_keys(payload: str, keys: list[tuple[str, str]] | None) -> None:
    assert changed_keys(payload) == keys
