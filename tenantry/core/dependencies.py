"""Typed FastAPI dependencies shared by both planes.

Dependencies are `async def` even when they do no I/O: FastAPI runs a plain `def` dependency in a
worker thread, and a dozen thread hops per request cost more than the request's own work.

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
from tenantry.core.runtime import Runtime, get_runtime
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tenantry.core.tenancy.errors import TenantRequired

RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


async def get_settings_dep(runtime: RuntimeDep) -> Settings:
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings_dep)]


async def resolved_tenant(request: Request) -> Tenant | None:
    tenant = request.scope.get("state", {}).get("tenant")
    return tenant if isinstance(tenant, Tenant) else None


async def current_tenant(tenant: Annotated[Tenant | None, Depends(resolved_tenant)]) -> Tenant:
    if tenant is None:
        raise TenantRequired()
    return tenant


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


async def tenant_session(runtime: RuntimeDep, tenant: CurrentTenant) -> AsyncIterator[AsyncSession]:
    async with _transaction(runtime.database.tenant_session(tenant.schema)) as session:
        yield session


async def platform_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    async with _transaction(runtime.database.platform_session()) as session:
        yield session


TenantSession = Annotated[AsyncSession, Depends(tenant_session, scope="function")]
PlatformSession = Annotated[AsyncSession, Depends(platform_session, scope="function")]
