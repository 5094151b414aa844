"""The bare baselines: FastAPI and the same database work as the service's route, nothing else.

No middleware, no tenant resolution, no token check, no ORM session: each route runs the
statements of one service route against the benchmark tenant's schema through SQLAlchemy Core and
answers the same JSON shape. The engine comes from the service's own `create_engine`, so the
pool, idle-connection ping, statement timeout and asyncpg statement cache are the service's, read
from the same `TENANTRY_*` settings.

- `GET /baseline/users/{id}`: the single-row read of `GET /api/v1/users/me` (`UserRead`).
- `GET /baseline/users?limit=50`: the first page of `GET /api/v1/users` (`UserPage`): the keyset
  query with `limit + 1` rows in the default sort, the roles of the page in one query, the cursor.
- `POST /baseline/oauth/token`: one refresh-token rotation as `refresh_grant` does it, in one
  transaction: consume the presented token (one UPDATE ... RETURNING), read the session and the
  user, then, as the ORM flushes them, update the session's activity and insert the next token.
  No JWT is signed: the answer's `access_token` is empty.
- `POST /baseline/oauth/login`: one password grant as `password_grant` does it: a turn of the
  service's `PasswordHasher` (its slots and threads), the user by email, the verification, the
  service's one write statement (`LOGIN_WRITES`: the user's login stamp, the session, its first
  refresh token, the audit row) and an EdDSA access token signed with the service's keys. The
  login scenario reports it beside the service, against the same hash ceiling: how close a bare
  endpoint doing the same work comes to it on this machine.

Served by bench/servers.py exactly like the service: `uvicorn bench.baseline_app:create_app
--factory`, one worker, uvloop, httptools, no access log. `BENCH_TENANT_SCHEMA` names the schema.
"""

import os
from collections import defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated, Any, cast
from uuid import UUID, uuid4

from fastapi import FastAPI, Form, HTTPException, Query
from fastapi.responses import JSONResponse
from sqlalchemy import Row, Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tenantry.core.clock import utcnow
from tenantry.core.database import create_engine
from tenantry.core.models import TENANT_SCHEMA
from tenantry.core.security.keys import KeySet, load_keyset
from tenantry.core.security.opaque import OpaqueToken, digest_of, new_opaque_token
from tenantry.core.security.passwords import PasswordHasher
from tenantry.core.security.tokens import issue_access_token
from tenantry.core.settings import Settings
from tenantry.core.tenancy.settings import TenantSettings
from tenantry.tenants.audit.actions import AuditAction, AuditOutcome, AuditTarget
from tenantry.tenants.auth.models import AuthSession, RefreshToken
from tenantry.tenants.auth.oauth import NO_STORE
from tenantry.tenants.auth.repository import LOGIN_WRITES
from tenantry.tenants.auth.schemas import TokenResponse
from tenantry.tenants.auth.service import DEFAULT_SCOPE
from tenantry.tenants.roles.models import Role, UserRole
from tenantry.tenants.user_admin.cursor import encode_cursor
from tenantry.tenants.user_admin.schemas import UserAdminRead, UserPage
from tenantry.tenants.users.models import User, UserStatus
from tenantry.tenants.users.schemas import UserRead

BASELINE_PATH = "/baseline/users"
BASELINE_TOKEN_PATH = "/baseline/oauth/token"  # noqa: S105 - a path, not a secret
BASELINE_LOGIN_PATH = "/baseline/oauth/login"

# Core tables of the service's models (declarative models' tables are `Table`s).
users = cast(Table, User.__table__)
sessions = cast(Table, AuthSession.__table__)
refresh_tokens = cast(Table, RefreshToken.__table__)
roles = cast(Table, Role.__table__)
user_roles = cast(Table, UserRole.__table__)
# The default sort of the user list (created_at ascending, the id breaking ties) and its cursor.
CURSOR_KIND = "users:created_at:asc"
# The benchmark tenant has the default settings.
IDLE = timedelta(minutes=TenantSettings().session_idle_minutes)
ABSOLUTE = timedelta(minutes=TenantSettings().session_absolute_minutes)
EXPIRES_IN = TenantSettings().access_token_minutes * 60


def create_app() -> FastAPI:
    settings = Settings()
    engine = create_engine(settings)
    schema = os.environ["BENCH_TENANT_SCHEMA"]
    tenant_engine = engine.execution_options(schema_translate_map={TENANT_SCHEMA: schema})

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

    @app.get(BASELINE_PATH, response_model=UserPage)
    async def list_users(limit: Annotated[int, Query(ge=1, le=200)] = 50) -> UserPage:
        return await _first_page(tenant_engine, limit)

    @app.post(BASELINE_TOKEN_PATH)
    async def rotate(
        grant_type: Annotated[str, Form()], refresh_token: Annotated[str, Form()]
    ) -> JSONResponse:
        if grant_type != "refresh_token":
            raise HTTPException(status_code=400)
        return await _rotate(tenant_engine, refresh_token)

    login = _Login(tenant_engine, settings)

    @app.post(BASELINE_LOGIN_PATH)
    async def password_grant(
        grant_type: Annotated[str, Form()],
        username: Annotated[str, Form()],
        password: Annotated[str, Form()],
    ) -> JSONResponse:
        if grant_type != "password":
            raise HTTPException(status_code=400)
        return await login(username, password)

    return app


async def _first_page(tenant_engine: AsyncEngine, limit: int) -> UserPage:
    """`UserAdminRepository.page` and `roles_by_user` with no filter, as Core statements."""
    async with tenant_engine.connect() as connection:
        rows = (
            await connection.execute(
                select(users).order_by(users.c.created_at.asc(), users.c.id.asc()).limit(limit + 1)
            )
        ).all()
        page = rows[:limit]
        held = await _roles_by_user(connection, [row.id for row in page])
    # One validation per user, as `UserAdminRead.of` does it.
    items = [UserAdminRead.model_validate({**row._mapping, "roles": held[row.id]}) for row in page]
    next_cursor = None
    if len(rows) > limit:
        last = page[-1]
        next_cursor = encode_cursor(CURSOR_KIND, [last.created_at.isoformat(), str(last.id)])
    return UserPage(items=items, next_cursor=next_cursor)


async def _roles_by_user(
    connection: AsyncConnection, user_ids: list[UUID]
) -> dict[UUID, list[dict[str, Any]]]:
    held: defaultdict[UUID, list[dict[str, Any]]] = defaultdict(list)
    if not user_ids:
        return held
    result = await connection.execute(
        select(user_roles.c.user_id, roles)
        .join(roles, roles.c.id == user_roles.c.role_id)
        .where(user_roles.c.user_id.in_(user_ids))
        .order_by(roles.c.name)
    )
    for row in result:
        held[row.user_id].append({"id": row.id, "name": row.name})
    return held


async def _rotate(tenant_engine: AsyncEngine, presented: str) -> JSONResponse:
    """The statements of a successful `refresh_grant`, in its order, in one transaction."""
    now = utcnow()
    issued = new_opaque_token()
    async with tenant_engine.begin() as connection:
        session_id = await connection.scalar(
            update(refresh_tokens)
            .where(
                refresh_tokens.c.digest == digest_of(presented),
                refresh_tokens.c.used_at.is_(None),
            )
            .values(used_at=now)
            .returning(refresh_tokens.c.session_id)
        )
        if session_id is None:
            raise HTTPException(status_code=400)
        session = (
            await connection.execute(select(sessions).where(sessions.c.id == session_id))
        ).one()
        user = (await connection.execute(select(users).where(users.c.id == session.user_id))).one()
        alive = (
            session.revoked_at is None and min(session.expires_at, session.idle_expires_at) > now
        )
        if not alive or user.status != UserStatus.ACTIVE.value:
            raise HTTPException(status_code=400)
        await connection.execute(
            update(sessions)
            .where(sessions.c.id == session_id)
            .values(last_used_at=now, idle_expires_at=min(now + IDLE, session.expires_at))
        )
        await connection.execute(
            insert(refresh_tokens).values(id=uuid4(), session_id=session_id, digest=issued.digest)
        )
    body = TokenResponse(
        access_token="", expires_in=EXPIRES_IN, refresh_token=issued.value, scope=DEFAULT_SCOPE
    )
    return JSONResponse(body.model_dump(), headers=NO_STORE)


class _Login:
    """The work of a successful `password_grant`, without the framework around it."""

    def __init__(self, tenant_engine: AsyncEngine, settings: Settings) -> None:
        self.engine = tenant_engine
        self.hasher = PasswordHasher.from_settings(settings)
        self.keys: KeySet = load_keyset(settings)
        self.audience = settings.token_audience

    async def __call__(self, email: str, password: str) -> JSONResponse:
        async with self.hasher.turn(), self.engine.begin() as connection:
            user = (
                await connection.execute(select(users).where(users.c.email == email.lower()))
            ).one_or_none()
            if user is None or user.password_hash is None:
                raise HTTPException(status_code=400)
            check = await self.hasher.verify(user.password_hash, password)
            if not check.ok or user.status != UserStatus.ACTIVE.value:
                raise HTTPException(status_code=400)
            now = utcnow()
            session_id = uuid4()
            issued = new_opaque_token()
            await connection.execute(LOGIN_WRITES, self._writes(user, session_id, issued, now))
        token, _ = issue_access_token(
            self.keys,
            issuer="http://bench.bench.localhost",  # the service's, from TENANTRY_PUBLIC_URL
            audience=self.audience,
            subject=str(user.id),
            tenant_id=str(user.id),  # a UUID of the same length; nothing checks it here
            session_id=str(session_id),
            ttl_seconds=EXPIRES_IN,
            scope=DEFAULT_SCOPE,
        )
        body = TokenResponse(
            access_token=token,
            expires_in=EXPIRES_IN,
            refresh_token=issued.value,
            scope=DEFAULT_SCOPE,
        )
        return JSONResponse(body.model_dump(), headers=NO_STORE)

    @staticmethod
    def _writes(
        user: Row[Any], session_id: UUID, issued: OpaqueToken, now: datetime
    ) -> dict[str, Any]:
        expires_at = now + ABSOLUTE
        return {
            "user_id": user.id,
            "now": now,
            "new_hash": None,
            "session_id": session_id,
            "idle_expires_at": min(now + IDLE, expires_at),
            "expires_at": expires_at,
            "user_agent": None,
            "ip_address": None,
            "refresh_id": uuid4(),
            "digest": issued.digest,
            "audit_id": uuid4(),
            "audit_action": AuditAction.USER_LOGIN_SUCCEEDED,
            "audit_outcome": AuditOutcome.SUCCESS,
            "audit_actor_id": user.id,
            "audit_actor_type": "user",
            "audit_target_type": AuditTarget.USER,
            "audit_target_id": str(user.id),
            "audit_request_id": None,
            "audit_ip_address": None,
            "audit_details": {"session_id": str(session_id)},
        }
