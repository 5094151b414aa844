"""A resilient Postgres `LISTEN` connection, shared by every cache that replicas must keep in step.

Caches stay correct across replicas because each change sends a `NOTIFY` (from a trigger, so even a
change made by hand in SQL is seen). While the listener is down, `connected` is false and caches
must not trust what they hold; when it comes back, `on_reconnect` callbacks resync in full.
"""

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

import asyncpg
import structlog
from sqlalchemy.engine import make_url

log = structlog.get_logger(__name__)

NotificationHandler = Callable[[str], None]
ReconnectHandler = Callable[[], Awaitable[None] | None]


def asyncpg_dsn(sqlalchemy_url: str) -> str:
    return (
        make_url(sqlalchemy_url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


class PgListener:
    def __init__(self, dsn: str, *, ping_interval: float = 5.0, max_backoff: float = 5.0) -> None:
        self._dsn = dsn
        self._ping_interval = ping_interval
        self._max_backoff = max_backoff
        self._handlers: dict[str, list[NotificationHandler]] = {}
        self._on_reconnect: list[ReconnectHandler] = []
        self._task: asyncio.Task[None] | None = None
        self._connection: asyncpg.Connection | None = None
        self._lost = asyncio.Event()
        self.connected = asyncio.Event()

    def subscribe(self, channel: str, handler: NotificationHandler) -> None:
        self._handlers.setdefault(channel, []).append(handler)

    def on_reconnect(self, handler: ReconnectHandler) -> None:
        self._on_reconnect.append(handler)

    async def start(self, *, wait: float = 5.0) -> None:
        """Start listening in the background; wait up to `wait` seconds for the first connection."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="tenantry-pg-listener")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), wait)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        # A later start() must wait for a fresh connection, and caches must not trust this one.
        self.connected.clear()
        await self._close()

    async def _run(self) -> None:
        backoff = 0.1
        while True:
            try:
                await self._connect()
                backoff = 0.1
                await self._watch()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # any failure means: reconnect and resync
                log.warning("listener.disconnected", error=type(exc).__name__)
            self.connected.clear()
            await self._close()
            await self._notify_reconnect()  # drop what caches hold: they may have missed changes
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, self._max_backoff)

    async def _connect(self) -> None:
        connection = await asyncpg.connect(self._dsn, timeout=5)
        try:
            self._lost.clear()
            connection.add_termination_listener(lambda _: self._lost.set())
            for channel in self._handlers:
                await connection.add_listener(channel, self._dispatch)
        except BaseException:
            # Cancelled by stop() or failed before `_close()` could see it: close it here, or the
            # connection stays open until garbage collection.
            connection.terminate()
            raise
        self._connection = connection
        await self._notify_reconnect()
        self.connected.set()
        log.info("listener.connected", channels=sorted(self._handlers))

    async def _watch(self) -> None:
        connection = self._connection
        if connection is None:
            raise ConnectionError("listener is not connected")
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._lost.wait(), self._ping_interval)
            if self._lost.is_set():
                raise ConnectionError("listener connection terminated")
            await connection.execute("SELECT 1", timeout=self._ping_interval)

    def _dispatch(self, _conn: object, _pid: int, channel: str, payload: object) -> None:
        for handler in self._handlers.get(channel, ()):
            handler(str(payload))

    async def _notify_reconnect(self) -> None:
        for handler in self._on_reconnect:
            result = handler()
            if result is not None:
                await result

    async def _close(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None and not connection.is_closed():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), 2)
