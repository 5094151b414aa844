"""A fleet-migration worker process: one event loop and one database connection, kept for the
whole run, migrating the tenants the parent hands it one at a time."""

import asyncio
import time
from multiprocessing.util import Finalize
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

if TYPE_CHECKING:  # the service imports this module
    from tenantry.platform.migrations.service import BehindTenant

_loop: asyncio.AbstractEventLoop | None = None
_engine: AsyncEngine | None = None


def start(url: str) -> None:
    """Process initializer: the connection is opened on first use and kept for every tenant."""
    global _loop, _engine
    _loop = asyncio.new_event_loop()
    # No statement timeout here: a long data migration must be allowed to finish.
    _engine = create_async_engine(
        url,
        pool_size=1,
        max_overflow=0,
        pool_pre_ping=True,
        connect_args={"server_settings": {"application_name": "tenantry-migrate"}},
    )
    # Workers leave through os._exit(), which skips atexit; multiprocessing finalizers still run.
    Finalize(None, _stop, exitpriority=10)


def _stop() -> None:
    if _loop is not None and _engine is not None:
        _loop.run_until_complete(_engine.dispose())
        _loop.close()


def upgrade(
    tenant: "BehindTenant", target: str, script_location: str | None
) -> tuple["BehindTenant", str | None, float]:
    """Migrate one tenant; never raises, so that one failure cannot stop the pool."""
    from tenantry.platform.migrations.service import describe_error, upgrade_tenant

    if _loop is None or _engine is None:
        raise RuntimeError("worker.start() was not called")
    started = time.perf_counter()
    try:
        _loop.run_until_complete(upgrade_tenant(_engine, tenant, target, script_location))
    except Exception as exc:
        return tenant, describe_error(exc), time.perf_counter() - started
    return tenant, None, time.perf_counter() - started
