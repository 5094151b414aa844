"""Operators, as the control plane lists them: /platform/v1/operators."""

from fastapi import APIRouter

from tenantry.core.api import AUTHENTICATED_ERRORS
from tenantry.core.dependencies import TenantSession
from tenantry.platform.dependencies import PLATFORM_V1, OnPlatformTenant, OperatorsAdmin
from tenantry.platform.operators.schemas import OperatorRead
from tenantry.platform.operators.service import operator_service

router = APIRouter(
    prefix=f"{PLATFORM_V1}/operators",
    tags=["platform: operators"],
    dependencies=[OnPlatformTenant],
    responses=AUTHENTICATED_ERRORS,
)


@router.get("", response_model=list[OperatorRead])
async def list_operators(session: TenantSession, operator: OperatorsAdmin) -> list[OperatorRead]:
    """Every user of the platform tenant holding the operator role (`tenantry operators create`
    adds one)."""
    del operator
    return [OperatorRead.model_validate(user) for user in await operator_service.list(session)]
