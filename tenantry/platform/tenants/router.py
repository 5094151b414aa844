"""The tenant lifecycle API for operators: /platform/v1/tenants. Tenants are named by id here
(a slug can change); the CLI names them by slug. Both call the same service functions."""

from datetime import timedelta
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, BackgroundTasks, Query, status
from fastapi.responses import JSONResponse

from tenantry.core.api import AUTHENTICATED_ERRORS
from tenantry.core.dependencies import PlatformSession, RuntimeDep
from tenantry.platform.dependencies import (
    PLATFORM_V1,
    Identities,
    OnPlatformTenant,
    TenantOperator,
    operator_audit,
)
from tenantry.platform.migrations.alembic_runner import tenant_head
from tenantry.platform.tenants import views
from tenantry.platform.tenants.lifecycle import tenant_lifecycle
from tenantry.platform.tenants.schemas import (
    TenantCreate,
    TenantCreated,
    TenantDetail,
    TenantPage,
    TenantQuery,
    TenantRead,
    TenantUpdate,
)
from tenantry.platform.tenants.service import tenant_service
from tenantry.platform.tenants.transfer import TenantExport, export_tenant, import_tenant
from tenantry.tenants.accounts.router import deliver
from tenantry.tenants.audit.service import Audit

router = APIRouter(
    prefix=f"{PLATFORM_V1}/tenants",
    tags=["platform: tenants"],
    dependencies=[OnPlatformTenant],
    responses=AUTHENTICATED_ERRORS,
)


async def _read(session: PlatformSession, runtime: RuntimeDep, tenant_id: UUID) -> TenantRead:
    record = await tenant_lifecycle.get(session, tenant_id)
    domains = await tenant_lifecycle.domains(session, record)
    return views.tenant_read(record, domains, runtime.settings)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=TenantCreated)
async def create_tenant(
    session: PlatformSession,
    runtime: RuntimeDep,
    identity: Identities,
    operator: TenantOperator,
    audit: Audit,
    body: TenantCreate,
    background: BackgroundTasks,
) -> TenantCreated:
    """Provision a tenant and email its first administrator an invitation to become owner."""
    created = await tenant_service.create(
        session,
        identity,
        slug=body.slug,
        display_name=body.display_name,
        admin_email=str(body.admin_email),
        settings=body.settings,
        domains=body.domains,
        base_domain=runtime.settings.base_domain,
        audit=operator_audit(audit, operator),
    )
    background.add_task(deliver, runtime.mailer, [created.email])
    return views.tenant_created(created, runtime.settings)


@router.get("", response_model=TenantPage)
async def list_tenants(
    session: PlatformSession,
    runtime: RuntimeDep,
    operator: TenantOperator,
    query: Annotated[TenantQuery, Query()],
) -> TenantPage:
    """Tenants by slug, filtered by status and by text in the slug or name; `next_cursor` pages."""
    del operator
    page = await tenant_lifecycle.page(session, query)
    items = [views.tenant_read(r, page.domains[r.id], runtime.settings) for r in page.items]
    return TenantPage(items=items, next_cursor=page.next_cursor)


@router.get("/{tenant_id}", response_model=TenantDetail)
async def get_tenant(
    session: PlatformSession, runtime: RuntimeDep, operator: TenantOperator, tenant_id: UUID
) -> TenantDetail:
    """One tenant, with its user count and whether its schema is at the migration head."""
    del operator
    record = await tenant_lifecycle.get(session, tenant_id)
    return views.tenant_detail(
        record,
        await tenant_lifecycle.domains(session, record),
        runtime.settings,
        user_count=await tenant_lifecycle.user_count(session, record),
        head=tenant_head(),
    )


@router.patch("/{tenant_id}", response_model=TenantRead)
async def update_tenant(
    session: PlatformSession,
    runtime: RuntimeDep,
    operator: TenantOperator,
    audit: Audit,
    tenant_id: UUID,
    body: TenantUpdate,
) -> TenantRead:
    """Change the name, the slug (old URLs stop resolving), domains or settings, all or none."""
    await tenant_lifecycle.update(
        session,
        tenant_id,
        body,
        base_domain=runtime.settings.base_domain,
        audit=operator_audit(audit, operator),
    )
    return await _read(session, runtime, tenant_id)


@router.post("/{tenant_id}/suspend", response_model=TenantRead)
async def suspend_tenant(
    session: PlatformSession, runtime: RuntimeDep, operator: TenantOperator, tenant_id: UUID
) -> TenantRead:
    """Answer the tenant's requests with 403 tenant_suspended on every replica; end its sessions."""
    del operator
    await tenant_lifecycle.suspend(session, tenant_id)
    return await _read(session, runtime, tenant_id)


@router.post("/{tenant_id}/resume", response_model=TenantRead)
async def resume_tenant(
    session: PlatformSession, runtime: RuntimeDep, operator: TenantOperator, tenant_id: UUID
) -> TenantRead:
    """Serve a suspended tenant again, or cancel a deletion during its grace period."""
    del operator
    await tenant_lifecycle.resume(session, tenant_id)
    return await _read(session, runtime, tenant_id)


@router.delete("/{tenant_id}", status_code=status.HTTP_202_ACCEPTED, response_model=TenantRead)
async def delete_tenant(
    session: PlatformSession, runtime: RuntimeDep, operator: TenantOperator, tenant_id: UUID
) -> TenantRead:
    """Mark the tenant for deletion (410 from now on); `purge` drops it after the grace period."""
    del operator
    grace = timedelta(hours=runtime.settings.tenant_deletion_grace_hours)
    await tenant_lifecycle.schedule_deletion(session, tenant_id, grace=grace)
    return await _read(session, runtime, tenant_id)


@router.post("/{tenant_id}/purge", status_code=status.HTTP_204_NO_CONTENT)
async def purge_tenant(
    session: PlatformSession, operator: TenantOperator, tenant_id: UUID, force: bool = False
) -> None:
    """Drop a deleted tenant's schema and registry row; `force` skips what is left of the grace."""
    del operator
    await tenant_lifecycle.purge(session, tenant_id, force=force)


@router.get("/{tenant_id}/export", response_model=TenantExport)
async def export(
    session: PlatformSession,
    operator: TenantOperator,
    tenant_id: UUID,
    include_password_hashes: bool = False,
) -> JSONResponse:
    """The tenant's users, roles, assignments and settings as one document (hashes on request)."""
    del operator
    document = await export_tenant(
        session, tenant_id, include_password_hashes=include_password_hashes
    )
    # no-store: the document holds personal data, and password hashes when asked for.
    return JSONResponse(document.model_dump(mode="json"), headers={"Cache-Control": "no-store"})


@router.post("/import", status_code=status.HTTP_201_CREATED, response_model=TenantRead)
async def import_(
    session: PlatformSession,
    runtime: RuntimeDep,
    operator: TenantOperator,
    body: TenantExport,
    slug: str | None = None,
    with_domains: bool = True,
) -> TenantRead:
    """Create a tenant from an export of this or another Tenantry; `slug` renames it."""
    del operator
    record = await import_tenant(
        session, body, slug=slug, base_domain=runtime.settings.base_domain,
        with_domains=with_domains,
    )  # fmt: skip
    return await _read(session, runtime, record.id)
