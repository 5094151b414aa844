"""The bare baseline for `GET /api/v1/users/me`: FastAPI and the same single-row read, nothing else.

No middleware, no tenant resolution, no token check, no ORM session: one route that selects the
user row by id from the benchmark tenant's schema and answers the same JSON shape (`UserRead`).
The engine comes from the service's own `create_engine`, so the pool, pre-ping, statement
timeout and asyncpg statement cache are the service's, read from the same `TENANTRY_*` settings.

Served by bench/servers.py exactly like the service: `uvicorn bench.baseline_app:create_app
--factory`, one worker, uvloop, httptools, no access log. `BENCH_TENANT_SCHEMA` names the schema.
"""

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from uuid import UUID

from fastapi import FastAPI, HTTPException
from sqlalchemy import select

from tenantry.core.database import create_engine
from tenantry.core.models import TENANT_SCHEMA
from tenantry.core.settings import Settings
from tenantry.tenants.users.models import User
from tenantry.tenants.users.schemas import UserRead

BASELINE_PATH = "/baseline/users"


def create_app() -> FastAPI:
    settings = Settings()
    engine = create_engine(settings)
    schema = os.environ["BENCH_TENANT_SCHEMA"]
    tenant_engine = engine.execution_options(schema_translate_map={TENANT_SCHEMA: schema})
    users = User.__table__

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        yield
        await engine.dispose()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(BASELINE_PATH + "/{user_id}", response_model=UserRead)
    async def read_user(user_id: UUID) -> UserRead:
        async with tenant_engine.connect() as connection:
            result = await connection.execute(select(users).where(users.c.id == user_id))
            row = result.one_or_none()
        if row is None:
            raise HTTPException(status_code=404)
        return UserRead.model_validate(row)

    return app
