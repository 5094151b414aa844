"""Per-tenant enforcers, cached per process and dropped on every replica by `LISTEN/NOTIFY`."""

import asyncio
from collections.abc import Awaitable, Callable

from cachetools import LRUCache
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.authz.policy import TenantPolicy
from tenantry.core.notify import PgListener
from tenantry.core.tenancy.context import Tenant

# Triggers on a tenant's role tables send its schema name on this channel.
AUTHZ_CHANNEL = "tenantry_authz"

# Loads through the given session when there is one (a request's), else through its own.
PolicyLoader = Callable[[Tenant, AsyncSession | None], Awaitable[TenantPolicy]]


class PolicyCache:
    """A bounded LRU of enforcers. Like the tenant directory, it trusts its contents only while
    the listener is connected, and forgets everything when it reconnects (it may have missed
    notifications)."""

    def __init__(self, loader: PolicyLoader, listener: PgListener | None, *, maxsize: int) -> None:
        self._loader = loader
        self._listener = listener
        self._cache: LRUCache[str, TenantPolicy] = LRUCache(maxsize=maxsize)
        self._generations: dict[str, int] = {}
        self._building: dict[str, asyncio.Lock] = {}
        if listener is not None:
            listener.subscribe(AUTHZ_CHANNEL, self.invalidate)
            listener.on_reconnect(self.invalidate_all)

    def invalidate(self, schema: str) -> None:
        self._generations[schema] = self._generations.get(schema, 0) + 1
        self._cache.pop(schema, None)

    def invalidate_all(self) -> None:
        for schema in list(self._generations):
            self._generations[schema] += 1
        self._cache.clear()

    async def get(self, tenant: Tenant, session: AsyncSession | None = None) -> TenantPolicy:
        """The tenant's policy. A request passes its own session: a build through a second
        pooled connection while the request holds one deadlocks the pool as soon as a burst of
        requests as large as the pool arrives after a change (each holds one, waits for another).
        """
        trusted = self._listener is not None and self._listener.connected.is_set()
        if not trusted:
            return await self._loader(tenant, session)
        cached = self._cache.get(tenant.schema)
        if cached is not None:
            return cached
        # One build per tenant at a time: a burst of requests after a change waits for it.
        lock = self._building.setdefault(tenant.schema, asyncio.Lock())
        async with lock:
            cached = self._cache.get(tenant.schema)
            if cached is not None:
                return cached
            generation = self._generations.get(tenant.schema, 0)
            policy = await self._loader(tenant, session)
            if generation == self._generations.get(tenant.schema, 0):
                self._cache[tenant.schema] = policy
            return policy
