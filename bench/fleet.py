"""Many tenants for the `tenants` scenario, each with a user signed in, made in-process.

Every tenant is provisioned by `tenant_service.provision` (registry row, schema, tables at head,
built-in roles), and in the same transaction gets one user and one session opened by the login
code itself (`AuthService._open_session`: the session row and its first refresh token), so that
GET /users/me finds a live session. Logging thousands of users in over HTTP would cost an argon2
hash each; the harness holds the servers' TENANTRY_* settings, signing key included, so tokens it
signs with the service's own code verify on the server. They are signed right before each
measurement: an access token lives 10 minutes, and provisioning thousands of tenants takes
minutes.
"""

import asyncio
import time
from dataclasses import dataclass
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from bench.database import Seed
from tenantry.core.clock import utcnow
from tenantry.core.database import Database, create_engine
from tenantry.core.settings import Settings
from tenantry.platform.identity import standalone_identities
from tenantry.platform.tenants.models import TenantRecord
from tenantry.platform.tenants.repository import TenantRepository
from tenantry.platform.tenants.service import IdentityFactory, tenant_service
from tenantry.tenants.audit.service import AuditContext
from tenantry.tenants.auth.context import ClientInfo, IdentityContext
from tenantry.tenants.auth.service import auth_service, resolve_scope
from tenantry.tenants.users.models import User
from tenantry.tenants.users.service import user_service

CLIENT = ClientInfo(ip_address="127.0.0.1", user_agent="tenantry-bench")
SCOPE = resolve_scope(None)  # what a login without `scope` is granted
PROGRESS_EVERY = 500


@dataclass(frozen=True)
class TenantLogin:
    """One tenant's signed-in user: enough to sign access tokens for its session."""

    slug: str
    identity: IdentityContext
    user: User  # detached; only its id is read
    session_id: UUID

    def access_token(self) -> str:
        token, _ = auth_service._access_token(self.identity, self.user, self.session_id, SCOPE)
        return token


async def _sign_in(session: AsyncSession, identity: IdentityContext, user: User) -> TenantLogin:
    tokens = await auth_service._open_session(
        session, identity, AuditContext.system(), user, SCOPE, CLIENT, utcnow(), new_hash=None
    )
    return TenantLogin(identity.tenant.slug, identity, user, tokens.session_id)


async def seeded_login(settings: Settings, seed: Seed) -> TenantLogin:
    """A session for the first seeded user of the benchmark tenant, the fleet's tenant 1."""
    identities = standalone_identities(settings)
    database = Database(create_engine(settings))
    try:
        async with database.platform_transaction() as session:
            record = await TenantRepository(session).get_by_slug(seed.tenant_slug)
        if record is None:
            raise RuntimeError(f"no tenant {seed.tenant_slug!r}")
        async with database.tenant_transaction(record.schema_name) as session:
            user = await session.get(User, seed.users[0].id)
            if user is None:
                raise RuntimeError("the first seeded user is gone")
            return await _sign_in(session, identities(record.to_tenant()), user)
    finally:
        await database.dispose()


async def grow(
    settings: Settings, *, have: int, target: int, concurrency: int = 4
) -> list[TenantLogin]:
    """Provision tenants number `have + 1` to `target`, `concurrency` at a time (one transaction
    each, as the API would), with a signed-in user each; progress every PROGRESS_EVERY."""
    identities = standalone_identities(settings)
    database = Database(create_engine(settings))
    numbers = iter(range(have + 1, target + 1))  # shared: each task takes the next number
    made: list[TenantLogin] = []
    started = time.perf_counter()

    async def provision_next() -> None:
        for number in numbers:
            made.append(await _provision(database, identities, number))
            done = have + len(made)
            if done % PROGRESS_EVERY == 0 or done == target:
                elapsed = time.perf_counter() - started
                print(f"  tenants: {done} provisioned ({len(made)} in {elapsed:.0f} s)")

    try:
        await asyncio.gather(*(provision_next() for _ in range(concurrency)))
    finally:
        await database.dispose()
    return sorted(made, key=lambda login: login.slug)


async def checkpoint(settings: Settings) -> str | None:
    """Write PostgreSQL's dirty buffers out after bulk provisioning (CHECKPOINT); the harness then
    waits for the kernel to write them back. Returns why it could not, e.g. without the right
    on an external server (superuser, or pg_checkpoint from PostgreSQL 15)."""
    engine = create_engine(settings)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("CHECKPOINT"))
    except DBAPIError as exc:
        return str(exc.orig).splitlines()[0]
    finally:
        await engine.dispose()
    return None


async def _provision(database: Database, identities: IdentityFactory, number: int) -> TenantLogin:
    slug = f"bench-t{number:05d}"
    signed_in: list[TenantLogin] = []

    async def seed(session: AsyncSession, record: TenantRecord) -> None:
        user = await user_service.create(
            session,
            email=f"user@{slug}.example",
            password_hash=None,
            email_verified=True,
            display_name=f"Tenant {number} user",
        )
        signed_in.append(await _sign_in(session, identities(record.to_tenant()), user))

    async with database.platform_transaction() as session:
        await tenant_service.provision(
            session, slug=slug, display_name=f"Bench tenant {number}", seed=seed
        )
    return signed_in[0]
