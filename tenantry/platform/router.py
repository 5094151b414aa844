"""Every route of the control plane; all of them under /platform/v1, on the platform tenant."""

from fastapi import APIRouter

from tenantry.platform.operators.router import router as operators_router
from tenantry.platform.tenants.router import router as tenants_router


def platform_routers() -> list[APIRouter]:
    return [tenants_router, operators_router]
