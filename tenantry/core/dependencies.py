"""Typed FastAPI dependencies shared by both planes.

Dependencies are `async def` even when they do no I/O: FastAPI runs a plain `def` dependency in a
worker thread, and a dozen thread hops per request cost more than the request's own work. The ones
every authenticated request solves (token, session, policy) read the runtime and the tenant from
the request themselves instead of declaring them as sub-dependencies: FastAPI spends tens of
microseconds on each edge of the graph, per request, which the benchmark showed (bench/README.md).

A session dependency owns the request's transaction: it commits when the endpoint returns and rolls
back when it raises. `scope="function"` makes the commit happen before the response is sent, so a
client never sees a success for a write that failed to commit.
"""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncSession

from tenantry.core.errors import TenantryError
from tenantry.core.runtime import Runtime, get_runtime, runtime_of
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tenantry.core.tenancy.errors import TenantRequired

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings_dep(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


def tenant_of(request: Request) -> Tenant:
    """The tenant the middleware resolved for this request; `TenantRequired` when there is none."""
    tenant = request.scope.get("state", {}).get("tenant")
    if not isinstance(tenant, Tenant):
        raise TenantRequired()
    return tenant


async def current_tenant(request: Request) -> Tenant:
    return tenant_of(request)


CurrentTenant = Annotated[Tenant, Depends(current_tenant)]


@asynccontextmanager
async def _transaction(session: AsyncSession) -> AsyncIterator[AsyncSession]:
    # A context manager, not a generator the dependency iterates: an exception thrown into the
    # dependency must reach this code as itself, not as GeneratorExit.
    async with session:
        try:
            yield session
        except TenantryError as exc:
            await (session.commit() if exc.keeps_changes else session.rollback())
            raise
        except BaseException:
            await session.rollback()
            raise
        await session.commit()


async def tenant_session(request: Request, tenant: CurrentTenant) -> AsyncIterator[AsyncSession]:
    # `tenant` stays declared: it is how a route's dependency graph says it is tenant-bound.
    database = runtime_of(request).database
    async with _transaction(database.tenant_session(tenant.schema)) as session:
        yield session


async def platform_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with _transaction(runtime.database.platform_session()) as session:
        yield session


TenantSession = Annotated[AsyncSession, Depends(tenant_session, scope="function")]
PlatformSession = Annotated[AsyncSession, Depends(platform_session, scope="function")]
