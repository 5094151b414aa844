"""Kubernetes probes: `/healthz` says the process is alive, `/readyz` that it can serve."""

import asyncio

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from tenantry.core.dependencies import RuntimeDep
from tenantry.core.errors import is_database_outage
from tenantry.core.migrations import Tree, head_revision
from tenantry.core.models import PLATFORM_SCHEMA

router = APIRouter(tags=["health"])

_VERSION_TABLE = f"{PLATFORM_SCHEMA}.alembic_version"


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Liveness: the process answers. No database call, so an outage never restarts pods."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Not ready, with the reason"}})
async def readyz(runtime: RuntimeDep) -> JSONResponse:
    """Readiness: the database answers and the platform schema is at the migration head."""
    expected = head_revision(Tree.PLATFORM)
    try:
        current = await asyncio.wait_for(
            _platform_revision(runtime), runtime.settings.readiness_timeout_seconds
        )
    except Exception as exc:
        if not is_database_outage(exc):
            raise
        return JSONResponse(
            {"status": "unavailable", "reason": "database_unreachable"}, status_code=503
        )
    if current != expected:
        return JSONResponse(
            {"status": "unavailable", "reason": "platform_schema_not_at_head"}, status_code=503
        )
    return JSONResponse({"status": "ok"})


async def _platform_revision(runtime: RuntimeDep) -> str | None:
    async with runtime.database.engine.connect() as connection:
        exists = await connection.scalar(
            text("SELECT to_regclass(:name)"), {"name": _VERSION_TABLE}
        )
        if exists is None:
            return None
        # A fixed, schema-qualified name: no user input, no tenant schema involved.
        result = await connection.execute(text(f"SELECT version_num FROM {_VERSION_TABLE}"))  # noqa: S608
        return result.scalar_one_or_none()
