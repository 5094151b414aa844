"""Cached tenant look-ups, invalidated across replicas by `LISTEN/NOTIFY`."""

import json
from typing import Protocol

from cachetools import TTLCache

from tenantry.core.notify import PgListener
from tenantry.core.tenancy.context import Tenant

TENANTS_CHANNEL = "tenantry_tenants"


class TenantSource(Protocol):
    """Where tenants really live; the control plane implements it over its registry."""

    async def by_slug(self, slug: str) -> Tenant | None: ...

    async def by_domain(self, hostname: str) -> Tenant | None: ...


class TenantDirectory:
    """Answers "which tenant is this?" from a bounded cache in front of a `TenantSource`.

    Negative answers are cached too (a flood of unknown slugs must not become a flood of queries);
    creating a tenant sends a notification that clears them. A notification names the slugs and
    hostnames that changed (platform migration 0004), and only those entries go; one that names
    nothing readable clears the cache. The cache is bypassed whenever the listener is down, so a
    suspension can never be missed for longer than the reconnect.
    """

    def __init__(
        self, source: TenantSource, listener: PgListener | None, *, ttl: float, maxsize: int
    ) -> None:
        self._source = source
        self._listener = listener
        self._cache: TTLCache[tuple[str, str], Tenant | None] = TTLCache(maxsize=maxsize, ttl=ttl)
        # Bumped on every invalidation, so a look-up that raced a change never caches stale data.
        self._generation = 0
        if listener is not None:
            listener.subscribe(TENANTS_CHANNEL, self._changed)
            listener.on_reconnect(self.invalidate)

    def invalidate(self) -> None:
        self._generation += 1
        self._cache.clear()

    def _changed(self, payload: str) -> None:
        keys = changed_keys(payload)
        if keys is None:
            self.invalidate()
            return
        self._generation += 1
        for key in keys:
            self._cache.pop(key, None)

    @property
    def _trusted(self) -> bool:
        return self._listener is not None and self._listener.connected.is_set()

    async def by_slug(self, slug: str) -> Tenant | None:
        return await self._lookup(("slug", slug))

    async def by_domain(self, hostname: str) -> Tenant | None:
        return await self._lookup(("domain", hostname))

    async def _lookup(self, key: tuple[str, str]) -> Tenant | None:
        trusted = self._trusted
        if trusted and key in self._cache:
            return self._cache[key]
        kind, value = key
        generation = self._generation
        tenant = (
            await self._source.by_slug(value)
            if kind == "slug"
            else await self._source.by_domain(value)
        )
        if trusted and generation == self._generation:
            self._cache[key] = tenant
        return tenant


def changed_keys(payload: str) -> list[tuple[str, str]] | None:
    """The cache keys a registry notification names; None when it names nothing readable."""
    try:
        changed = json.loads(payload)
    except ValueError:
        return None  # revision 0001's table name, or a payload too long for NOTIFY
    if not isinstance(changed, dict):
        return None
    keys: list[tuple[str, str]] = []
    for field, kind in (("slugs", "slug"), ("hostnames", "domain")):
        values = changed.get(field)
        if not isinstance(values, list) or not all(isinstance(value, str) for value in values):
            return None
        keys.extend((kind, value) for value in values)
    return keys
