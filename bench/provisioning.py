"""Provisioning and fleet-migration benchmark: `.venv/bin/python bench/provisioning.py`.

On a throw-away embedded PostgreSQL (no disk syncs, as in the tests), or on a new database of
the server in TENANTRY_DATABASE_URL, it measures:

1. creating tenants the way the API does (registry row, schema, tables at head, seeded roles,
   the first administrator's invitation): the first one on a fresh process, then N in a row;
2. upgrading every tenant schema through one additive revision, added to a temporary copy of the
   tenant migration tree (the real tree is never touched), sequentially and with worker
   processes;
3. a no-op `db upgrade` over the whole fleet, and how many queries it sends.

Targets (docs/operations.md): provisioning p50 < 150 ms; 1,000 tenants migrated in < 60 s.
"""

import argparse
import asyncio
import contextlib
import json
import logging
import os
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog
from sqlalchemy import event, update

from tenantry.core.database import Database, create_engine
from tenantry.core.resources import resource_dir
from tenantry.core.security.keys import generate_private_key_pem
from tenantry.core.settings import Environment, Settings, normalize_database_url
from tenantry.devdb import scratch_database
from tenantry.platform.identity import standalone_identities
from tenantry.platform.migrations.alembic_runner import tenant_head
from tenantry.platform.migrations.service import upgrade_fleet, upgrade_tenants
from tenantry.platform.tenants.service import tenant_service
from tenantry.tenants.audit.service import AuditContext

REVISION = '''
    """Benchmark only: one additive column."""
    import sqlalchemy as sa

    from alembic import op
    from tenantry.core.migrations import tenant_schema

    revision = "bench0001"
    down_revision = "{head}"
    branch_labels = None
    depends_on = None


    def upgrade() -> None:
        op.add_column("users", sa.Column("bench_note", sa.Text()), schema=tenant_schema())


    def downgrade() -> None:
        op.drop_column("users", "bench_note", schema=tenant_schema())
'''


@contextlib.contextmanager
def database_server(workdir: Path) -> Iterator[tuple[str, str]]:
    """(server URL, description): the embedded server, or the one in TENANTRY_DATABASE_URL."""
    external = os.environ.get("TENANTRY_DATABASE_URL")
    if external:
        yield normalize_database_url(external), "TENANTRY_DATABASE_URL"
        return
    from tenantry.devdb import EmbeddedPostgres

    server = EmbeddedPostgres(workdir / "pg", durable=False)
    try:
        yield normalize_database_url(server.start()), "embedded PostgreSQL, fsync off"
    finally:
        server.destroy()


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered) * 1000, 1),
        "p95_ms": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))] * 1000, 1),
        "max_ms": round(ordered[-1] * 1000, 1),
    }


async def create_tenants(database: Database, settings: Settings, count: int) -> list[float]:
    identities = standalone_identities(settings)
    audit = AuditContext(actor_type="operator")
    durations = []
    for _ in range(count):
        slug = f"bench-{uuid.uuid4().hex[:12]}"
        started = time.perf_counter()
        async with database.platform_transaction() as session:
            await tenant_service.create(
                session, identities, slug=slug, display_name="Bench Org",
                admin_email=f"admin@{slug}.example", settings={}, domains=[],
                base_domain=settings.base_domain, audit=audit,
            )  # fmt: skip
        durations.append(time.perf_counter() - started)
    return durations


def extended_tree(workdir: Path) -> str:
    tree = workdir / "tenant-tree"
    shutil.copytree(resource_dir("alembic") / "tenant", tree)
    source = textwrap.dedent(REVISION.format(head=tenant_head()))
    (tree / "versions" / "bench0001_bench_note.py").write_text(source)
    return str(tree)


async def migrate_fleet(database: Database, tree: str, concurrency: int) -> dict[str, Any]:
    started = time.perf_counter()
    report = await upgrade_tenants(database.engine, concurrency=concurrency, script_location=tree)
    seconds = time.perf_counter() - started
    if not report.ok:
        raise RuntimeError(f"fleet migration failed: {report.failed}")
    return {
        "concurrency": concurrency,
        "tenants": len(report.upgraded),
        "seconds": round(seconds, 2),
    }


async def no_op_upgrade(database: Database, tree: str) -> dict[str, Any]:
    statements: list[str] = []

    def count(*_: object) -> None:
        statements.append("")

    event.listen(database.engine.sync_engine, "before_cursor_execute", count)
    started = time.perf_counter()
    try:
        report = await upgrade_tenants(database.engine, script_location=tree)
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", count)
    return {
        "tenants": report.current,
        "queries": len(statements),
        "ms": round((time.perf_counter() - started) * 1000, 1),
    }


async def run(server_url: str, tenants: int, concurrency: int, workdir: Path) -> dict[str, Any]:
    async with scratch_database(server_url) as url:
        settings = Settings(
            env=Environment.TEST,
            database_url=url,
            signing_keys=[generate_private_key_pem("rsa")],
            database_statement_timeout_ms=0,
        )
        database = Database(create_engine(settings))
        try:
            await upgrade_fleet(database.engine)
            first = await create_tenants(database, settings, 1)
            in_a_row = await create_tenants(database, settings, tenants)
            tail = max(1, tenants // 10)
            results: dict[str, Any] = {
                "first_tenant_ms": round(first[0] * 1000, 1),
                "provisioning": percentiles(in_a_row),
                "provisioning_first_tenth": percentiles(in_a_row[:tail]),
                "provisioning_last_tenth": percentiles(in_a_row[-tail:]),
            }
            tree = extended_tree(workdir)
            # The same revision twice over the whole fleet: in workers, then in this process.
            results["migration_parallel"] = await migrate_fleet(database, tree, concurrency)
            await reset_versions(database)
            results["migration_sequential"] = await migrate_fleet(database, tree, 1)
            results["no_op_upgrade"] = await no_op_upgrade(database, tree)
            return results
        finally:
            await database.dispose()


async def reset_versions(database: Database) -> None:
    """Undo the benchmark revision so that the fleet can be migrated again."""
    from sqlalchemy import select, text

    from tenantry.platform.tenants.models import TenantRecord

    async with database.engine.begin() as connection:
        schemas = (await connection.execute(select(TenantRecord.schema_name))).scalars().all()
        for schema in schemas:
            await connection.execute(text(f'ALTER TABLE "{schema}".users DROP COLUMN bench_note'))
            await connection.execute(
                text(f'UPDATE "{schema}".alembic_version SET version_num = :v'),  # noqa: S608
                {"v": tenant_head()},
            )
        await connection.execute(update(TenantRecord).values(schema_version=tenant_head()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=1000, help="tenants created in a row")
    parser.add_argument(
        "--concurrency", type=int, default=4, help="migration worker processes for the parallel run"
    )
    parser.add_argument("--json", action="store_true", help="print JSON only")
    args = parser.parse_args()
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    with tempfile.TemporaryDirectory(prefix="tenantry-bench-") as tmp:
        workdir = Path(tmp)
        with database_server(workdir) as (server_url, where):
            results = asyncio.run(run(server_url, args.tenants, args.concurrency, workdir))
    results["database"] = where
    results["cpus"] = os.cpu_count()
    if args.json:
        print(json.dumps(results))
        return
    p = results["provisioning"]
    print(f"database: {where}; {results['cpus']} CPUs")
    print(f"first tenant (cold process): {results['first_tenant_ms']} ms")
    print(f"{p['n']} tenants in a row: p50 {p['p50_ms']} ms, p95 {p['p95_ms']} ms, "
          f"max {p['max_ms']} ms (target p50 < 150 ms)")  # fmt: skip
    first, last = results["provisioning_first_tenth"], results["provisioning_last_tenth"]
    print(f"  first tenth p50 {first['p50_ms']} ms, last tenth p50 {last['p50_ms']} ms")
    for key in ("migration_sequential", "migration_parallel"):
        m = results[key]
        print(f"fleet migration, {m['tenants']} schemas, concurrency {m['concurrency']}: "
              f"{m['seconds']} s (target < 60 s)")  # fmt: skip
    n = results["no_op_upgrade"]
    print(f"no-op upgrade over {n['tenants']} tenants: {n['queries']} query, {n['ms']} ms")
    sys.stdout.flush()


if __name__ == "__main__":  # worker processes import this module too (spawn)
    main()
