"""The tenant's audit trail: /api/v1/audit-events."""

from typing import Annotated

from fastapi import APIRouter, Query

from tenantry.core.api import API_V1, AUTHENTICATED_ERRORS
from tenantry.core.dependencies import TenantSession
from tenantry.tenants.audit.schemas import AuditEventPage, AuditEventQuery
from tenantry.tenants.audit.service import audit_service
from tenantry.tenants.roles.dependencies import Authorize

router = APIRouter(prefix=f"{API_V1}/audit-events", tags=["audit"], responses=AUTHENTICATED_ERRORS)


@router.get("", response_model=AuditEventPage, dependencies=[Authorize("audit:read")])
async def list_audit_events(
    session: TenantSession, query: Annotated[AuditEventQuery, Query()]
) -> AuditEventPage:
    """Audit events, newest first, filtered; pass `next_cursor` back as `cursor` for more."""
    page = await audit_service.list_events(session, query)
    return AuditEventPage.model_validate(page, from_attributes=True)
