"""Fleet migrations: resumable after a failure in one tenant, and one query when nothing is due.

Each test runs on a database of its own, with a copy of the tenant migration tree plus temporary
revisions in tmp_path: the real tree and the suite's shared database stay untouched.
"""

import shutil
import textwrap
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import event, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from tenantry.core.database import Database, create_engine
from tenantry.core.resources import resource_dir
from tenantry.core.tenancy.context import TenantStatus
from tenantry.platform.migrations.alembic_runner import tenant_head
from tenantry.platform.migrations.service import (
    fleet_status,
    upgrade_fleet,
    upgrade_tenants,
)
from tenantry.platform.tenants.models import TenantRecord
from tenantry.platform.tenants.service import tenant_service
from tests.fixtures.database import settings_for

REVISION = '''
    """{doc}"""
    from pathlib import Path

    import sqlalchemy as sa

    from alembic import op
    from tenantry.core.migrations import tenant_schema

    revision = "{revision}"
    down_revision = "{down}"
    branch_labels = None
    depends_on = None


    def upgrade() -> None:
        schema = tenant_schema()
        {body}


    def downgrade() -> None:
        pass
'''


def write_revision(tree: Path, revision: str, down: str, body: str) -> None:
    source = REVISION.format(doc=revision, revision=revision, down=down, body=body)
    (tree / "versions" / f"{revision}_test.py").write_text(textwrap.dedent(source))


@pytest.fixture
def extended_tree(tmp_path: Path) -> Path:
    """The tenant tree plus x0001 (adds a column) and x0002 (adds an index, but raises for
    every schema listed in failing.txt next to it)."""
    tree = tmp_path / "tenant"
    shutil.copytree(resource_dir("alembic") / "tenant", tree)
    write_revision(
        tree, "x0001", tenant_head(),
        'op.add_column("users", sa.Column("fleet_note", sa.Text()), schema=schema)',
    )  # fmt: skip
    write_revision(
        tree, "x0002", "x0001",
        'if schema in Path(__file__).with_name("failing.txt").read_text().split():\n'
        '            raise RuntimeError(f"x0002 breaks in {schema}")\n'
        '        op.create_index("ix_users_fleet_note", "users", ["fleet_note"], schema=schema)',
    )  # fmt: skip
    (tree / "versions" / "failing.txt").write_text("")
    return tree


@pytest.fixture
async def fleet_engine(fresh_database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = create_engine(settings_for(fresh_database_url))
    yield engine
    await engine.dispose()


async def provision(engine: AsyncEngine, count: int) -> list[TenantRecord]:
    database = Database(engine)
    records = []
    for _ in range(count):
        async with database.platform_transaction() as session:
            slug = f"fleet-{uuid.uuid4().hex[:8]}"
            records.append(await tenant_service.provision(session, slug=slug, display_name="F"))
    return records


async def versions(
    engine: AsyncEngine, records: list[TenantRecord]
) -> dict[str, tuple[str | None, str | None]]:
    """Per slug: the revision the registry records, and the one the schema really has."""
    found = {}
    async with engine.connect() as connection:
        for record in records:
            registry = await connection.scalar(
                select(TenantRecord.schema_version).where(TenantRecord.id == record.id)
            )
            actual = await connection.scalar(
                text(f'SELECT version_num FROM "{record.schema_name}".alembic_version')  # noqa: S608
            )
            found[record.slug] = (registry, actual)
    return found


async def test_a_failing_tenant_stops_at_its_last_good_revision_and_a_rerun_continues(
    fleet_engine: AsyncEngine, extended_tree: Path
) -> None:
    records = await provision(fleet_engine, 4)
    broken = records[1]
    (extended_tree / "versions" / "failing.txt").write_text(broken.schema_name)
    location = str(extended_tree)
    progress: list[tuple[str, str | None]] = []

    # Two worker processes: the parallel path, as `tenantry db upgrade` runs it by default.
    report = await upgrade_fleet(
        fleet_engine,
        concurrency=2,
        script_location=location,
        on_progress=lambda tenant, error: progress.append((tenant.slug, error)),
    )

    assert report.target == "x0002"
    assert list(report.failed) == [broken.slug]
    assert "x0002 breaks in" in report.failed[broken.slug]
    assert {r.slug for r in records} - {broken.slug} <= set(report.upgraded)
    assert len(progress) == len(report.upgraded) + 1  # the platform tenant is upgraded too
    seen = await versions(fleet_engine, records)
    assert seen[broken.slug] == ("x0001", "x0001")  # its last good revision, recorded
    assert all(seen[r.slug] == ("x0002", "x0002") for r in records if r is not broken)
    status = await fleet_status(fleet_engine, script_location=location)
    assert [t.slug for t in status.behind] == [broken.slug]

    (extended_tree / "versions" / "failing.txt").write_text("")
    rerun = await upgrade_tenants(fleet_engine, concurrency=1, script_location=location)
    assert (rerun.upgraded, rerun.failed) == ([broken.slug], {})
    assert rerun.current == status.total - 1
    assert (await versions(fleet_engine, [broken]))[broken.slug] == ("x0002", "x0002")
    again = await upgrade_tenants(fleet_engine, script_location=location)
    assert (again.upgraded, again.failed, again.current) == ([], {}, status.total)


async def test_a_stale_registry_is_corrected_without_migrating(fleet_engine: AsyncEngine) -> None:
    (record,) = await provision(fleet_engine, 1)
    async with fleet_engine.begin() as connection:
        await connection.execute(
            update(TenantRecord).where(TenantRecord.id == record.id).values(schema_version=None)
        )
    report = await upgrade_tenants(fleet_engine)
    assert report.upgraded == [record.slug]
    assert (await versions(fleet_engine, [record]))[record.slug] == (tenant_head(), tenant_head())


async def test_a_no_op_run_over_thousands_of_tenants_is_one_query(
    fleet_engine: AsyncEngine,
) -> None:
    head = tenant_head()
    rows = [
        {
            "id": tenant_id,
            "slug": f"idle-{index:05d}",
            "display_name": "Idle",
            "status": TenantStatus.ACTIVE.value,
            "schema_name": f"tenant_{tenant_id.hex}",  # never touched: nothing is due
            "schema_version": head,
            "settings": {},
        }
        for index, tenant_id in enumerate(uuid.uuid4() for _ in range(3000))
    ]
    async with fleet_engine.begin() as connection:
        await connection.execute(insert(TenantRecord), rows)

    statements: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        statements.append(statement)

    event.listen(fleet_engine.sync_engine, "before_cursor_execute", count)
    try:
        report = await upgrade_tenants(fleet_engine)
        tenant_queries = list(statements)
        statements.clear()
        await upgrade_fleet(fleet_engine)
    finally:
        event.remove(fleet_engine.sync_engine, "before_cursor_execute", count)

    assert report.ok
    assert report.current == 3001  # and the platform tenant
    assert len(tenant_queries) == 1, tenant_queries
    # The whole command, platform schema included, costs a handful, whatever the fleet's size.
    assert len(statements) < 15, statements
