"""The long-lived objects of one process, built once by `create_app` and shared by requests."""

from dataclasses import dataclass

from fastapi import Request

from tenantry.core.authz.cache import PolicyCache
from tenantry.core.database import Database
from tenantry.core.email import Mailer
from tenantry.core.notify import PgListener
from tenantry.core.ratelimit import RateLimiter
from tenantry.core.security.keys import KeySet
from tenantry.core.security.passwords import PasswordHasher
from tenantry.core.settings import Settings
from tenantry.core.tenancy.directory import TenantDirectory


@dataclass(slots=True)
class Runtime:
    settings: Settings
    database: Database
    listener: PgListener
    directory: TenantDirectory
    keys: KeySet
    hasher: PasswordHasher
    mailer: Mailer
    limiter: RateLimiter
    policies: PolicyCache

    async def start(self) -> None:
        await self.listener.start()

    async def stop(self) -> None:
        await self.listener.stop()
        await self.limiter.aclose()
        await self.database.dispose()


def runtime_of(request: Request) -> Runtime:
    runtime = request.app.state.runtime
    if not isinstance(runtime, Runtime):
        raise TypeError("app.state.runtime is not set; build the app with create_app()")
    return runtime


async def get_runtime(request: Request) -> Runtime:
    return runtime_of(request)
