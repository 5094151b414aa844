"""The connection pool: a tenant's sessions prefer the same few pooled connections.

Each PostgreSQL backend loads a schema's catalog entries (tables, indexes, their statistics) the
first time one of its statements touches that schema, and keeps them for as long as it lives.
With the plain FIFO pool every connection serves every tenant in turn: at 5,000 tenants most
requests met a schema their backend had not loaded yet, and each backend ended up holding the
catalogs of all 5,000 schemas. Measured on a kept 5,000-tenant database: PostgreSQL 0.56-0.64
cores and p99 49-59 ms without this, 0.41-0.55 cores and 39-43 ms with it (bench/README.md).

`TenantAffinePool` picks, among the idle connections, the one that ranks highest for the session's
tenant by rendezvous (highest-random-weight) hashing: each tenant has a stable order of preference
over the connections, so its requests return to the same connection while that one is idle, and
the tenants spread evenly over the pool. A busy first choice costs nothing: the next idle one in
the tenant's order is taken, never a wait and never a new connection while one is idle; only which
idle connection is taken changes. Opening, overflow, timeouts and disposal are SQLAlchemy's own
(`AsyncAdaptedQueuePool`); this only replaces the order in which its queue hands out idle entries.

The tenant is a hint, carried in a context variable that `Database.tenant_session` sets: it decides
performance, never correctness, since each transaction binds its own schema (pgconnection) and
any connection can run any tenant's statements. With no hint (platform sessions, scripts) the
most recently returned idle connection is taken, which keeps the pool's working set small.
"""

import asyncio
from collections import deque
from contextvars import ContextVar
from typing import Any

from sqlalchemy.pool import AsyncAdaptedQueuePool, ConnectionPoolEntry
from sqlalchemy.util import memoized_property
from sqlalchemy.util import queue as sqla_queue

_preferred_by: ContextVar[str | None] = ContextVar("tenantry_pool_affinity", default=None)


def prefer_connections_of(key: str | None) -> None:
    """Connections checked out from now on in this context favour those `key` used before."""
    _preferred_by.set(key)


class _RendezvousQueue(asyncio.Queue[ConnectionPoolEntry]):
    # asyncio.Queue's subclass hooks (`_init`, `_put`, `_get`), as LifoQueue uses them; `get` calls
    # `_get` only when an entry is there, and in the task that asked, so the hint is that task's.
    def _init(self, maxsize: int) -> None:
        self._queue: deque[ConnectionPoolEntry] = deque()

    def _put(self, item: ConnectionPoolEntry) -> None:
        self._queue.append(item)

    def _get(self) -> ConnectionPoolEntry:
        idle = self._queue
        key = _preferred_by.get()
        if key is None or len(idle) == 1:
            return idle.pop()
        # The entry objects live as long as the pool (a reconnect reuses its entry): their ids
        # are stable for the ranking. A str hash (SipHash) of both mixes them fully; a tuple's
        # hash does not, and measured lopsided (one connection of six got 105 keys of 300).
        best = max(range(len(idle)), key=lambda index: hash(f"{key}/{id(idle[index])}"))
        entry = idle[best]
        del idle[best]
        return entry


class _AffineQueue(sqla_queue.AsyncAdaptedQueue[ConnectionPoolEntry]):
    @memoized_property
    def _queue(self) -> asyncio.Queue[ConnectionPoolEntry]:
        # Created on first use, as SQLAlchemy's is, so that it binds to the running loop.
        return _RendezvousQueue(maxsize=self.maxsize)


class TenantAffinePool(AsyncAdaptedQueuePool):
    _queue_class: Any = _AffineQueue
