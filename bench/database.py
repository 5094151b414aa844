"""The benchmark's database: a fresh one, migrated, with a tenant and its users, dropped at the end.

Embedded PostgreSQL in a temporary directory (no disk syncs), or, when `TENANTRY_DATABASE_URL` is
set, a new database on that server. Everything is created through the service's own code:
fleet migrations, tenant provisioning, the password hasher and the user service.
"""

import asyncio
import contextlib
import os
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from tenantry.core.database import Database, create_engine
from tenantry.core.notify import asyncpg_dsn
from tenantry.core.security.passwords import PasswordHasher
from tenantry.core.settings import Settings, normalize_database_url
from tenantry.devdb import create_database, drop_database
from tenantry.platform.migrations.service import upgrade_fleet
from tenantry.platform.tenants.service import tenant_service
from tenantry.tenants.roles.service import role_service
from tenantry.tenants.users.service import user_service

TENANT_SLUG = "bench"


@dataclass(frozen=True)
class BenchDatabase:
    url: str  # postgresql+asyncpg://..., what TENANTRY_DATABASE_URL gets
    embedded: bool
    postmaster_pid: int | None = None  # known for the embedded server: its CPU is measured


@dataclass(frozen=True)
class SeededUser:
    id: uuid.UUID
    email: str


@dataclass(frozen=True)
class Seed:
    tenant_slug: str
    tenant_schema: str
    password: str
    password_hash: str
    users: list[SeededUser]
    admin: SeededUser  # holds the built-in admin role (the user list needs `users:read`)


@contextlib.contextmanager
def bench_database(workdir: Path) -> Iterator[BenchDatabase]:
    """A database of its own for this run; removed on the way out, whatever happened."""
    external = os.environ.get("TENANTRY_DATABASE_URL")
    if external:
        server_url = normalize_database_url(external)
        url = asyncio.run(create_database(server_url, prefix="tenantry_bench"))
        try:
            yield BenchDatabase(url=url, embedded=False)
        finally:
            asyncio.run(drop_database(server_url, url))
        return
    from tenantry.devdb import EmbeddedPostgres  # a development dependency

    server = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="pg-", dir=workdir)), durable=False)
    try:
        url = normalize_database_url(server.start())
        pid = int((server.data / "postmaster.pid").read_text().splitlines()[0])
        yield BenchDatabase(url=url, embedded=True, postmaster_pid=pid)
    finally:
        server.destroy()


async def server_version(database_url: str) -> str:
    connection = await asyncpg.connect(asyncpg_dsn(database_url))
    try:
        return str(await connection.fetchval("SHOW server_version"))
    finally:
        await connection.close()


async def prepare(settings: Settings, *, users: int, password: str) -> Seed:
    """Migrate, provision the benchmark tenant, and create `users` users with one password, plus
    an administrator (the built-in admin role, given as the service gives it to seeded admins).

    Every user gets the same argon2id hash (one salt): verification costs exactly what it costs
    with distinct salts, and seeding hundreds of users takes one hash instead of hundreds.
    """
    database = Database(create_engine(settings))
    try:
        report = await upgrade_fleet(database.engine)
        if not report.ok:
            raise RuntimeError(f"migrations failed: {report.failed}")
        async with database.platform_transaction() as session:
            record = await tenant_service.provision(
                session, slug=TENANT_SLUG, display_name="Benchmark"
            )
            schema = record.schema_name
        password_hash = await PasswordHasher.from_settings(settings).hash(password)
        seeded: list[SeededUser] = []
        async with database.tenant_transaction(schema) as session:
            for number in range(users):
                user = await user_service.create(
                    session,
                    email=f"bench-user-{number:05d}@bench.example",
                    password_hash=password_hash,
                    email_verified=True,
                    display_name=f"Bench User {number}",
                )
                seeded.append(SeededUser(user.id, user.email))
            admin = await user_service.create(
                session,
                email="bench-admin@bench.example",
                password_hash=password_hash,
                email_verified=True,
                display_name="Bench Admin",
            )
            await role_service.grant_builtin(session, admin, "admin")
        return Seed(
            TENANT_SLUG, schema, password, password_hash, seeded, SeededUser(admin.id, admin.email)
        )
    finally:
        await database.dispose()
