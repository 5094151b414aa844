"""Provisioning creates a tenant whole or not at all."""

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tenantry.core.database import Database
from tenantry.core.errors import ValidationFailed
from tenantry.core.migrations import Tree, head_revision
from tenantry.core.tenancy.context import schema_name_for
from tenantry.platform.migrations import alembic_runner, schema_script
from tenantry.platform.tenants import service as tenant_service_module
from tenantry.platform.tenants.errors import SlugTaken
from tenantry.platform.tenants.models import TenantRecord
from tenantry.platform.tenants.service import tenant_service
from tests.fixtures.app import TenantFactory, unique_slug


async def schema_exists(database: Database, schema: str) -> bool:
    async with database.engine.connect() as connection:
        found = await connection.scalar(
            text("SELECT 1 FROM information_schema.schemata WHERE schema_name = :s"), {"s": schema}
        )
        return found is not None


async def tenant_schema_count(database: Database) -> int:
    async with database.engine.connect() as connection:
        count = await connection.scalar(
            text(
                "SELECT count(*) FROM information_schema.schemata "
                "WHERE schema_name LIKE 'tenant\\_%'"
            )
        )
        return int(count or 0)


async def test_provisioned_tenant_has_schema_tables_and_version(
    make_tenant: TenantFactory, database: Database
) -> None:
    slug = unique_slug()
    tenant = await make_tenant(slug)
    assert tenant.schema == schema_name_for(tenant.id)
    assert slug not in tenant.schema
    async with database.engine.connect() as connection:
        version = await connection.scalar(
            text(f'SELECT version_num FROM "{tenant.schema}".alembic_version')  # noqa: S608
        )
        tables = set(
            (
                await connection.execute(
                    text(
                        "SELECT table_name FROM information_schema.tables WHERE table_schema = :s"
                    ),
                    {"s": tenant.schema},
                )
            ).scalars()
        )
    assert version == head_revision(Tree.TENANT)
    assert {"users", "alembic_version"} <= tables
    async with database.platform_session() as session:
        record = await session.get(TenantRecord, tenant.id)
    assert record is not None
    assert record.schema_version == head_revision(Tree.TENANT)


async def test_failure_inside_provisioning_leaves_nothing(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def tables_then_crash(connection: AsyncConnection, schema: str) -> None:
        await schema_script.create_tenant_schema(connection, schema)
        raise RuntimeError("disk full, say")

    monkeypatch.setattr(tenant_service_module, "create_tenant_schema", tables_then_crash)
    slug = unique_slug()
    schemas_before = await tenant_schema_count(database)
    with pytest.raises(RuntimeError, match="disk full"):
        async with database.platform_transaction() as session:
            await tenant_service.provision(session, slug=slug, display_name="Doomed")
    async with database.platform_session() as session:
        rows = await session.scalar(
            select(func.count()).select_from(TenantRecord).where(TenantRecord.slug == slug)
        )
    assert rows == 0
    assert await tenant_schema_count(database) == schemas_before


async def test_failure_in_seed_leaves_nothing(database: Database) -> None:
    slug = unique_slug()
    seen_schema: list[str] = []

    async def seed(session: AsyncSession, record: TenantRecord) -> None:
        seen_schema.append(record.schema_name)
        await session.execute(text("SELECT 1"))
        raise RuntimeError("seed failed")

    with pytest.raises(RuntimeError, match="seed failed"):
        async with database.platform_transaction() as session:
            await tenant_service.provision(session, slug=slug, display_name="Doomed", seed=seed)
    assert seen_schema, "the seed hook should have run"
    assert not await schema_exists(database, seen_schema[0])
    async with database.platform_session() as session:
        assert await session.scalar(select(TenantRecord).where(TenantRecord.slug == slug)) is None


async def test_duplicate_slug_is_409(make_tenant: TenantFactory) -> None:
    tenant = await make_tenant()
    with pytest.raises(SlugTaken) as caught:
        await make_tenant(tenant.slug)
    assert caught.value.status_code == 409
    assert caught.value.code == "slug_taken"


@pytest.mark.parametrize(
    "slug",
    ["ab", "A-corp", "1corp", "corp-", "-corp", "co--rp", "corp_1", "c" * 41, "café", "a b c",
     "platform", "www", "api", "admin"],
)  # fmt: skip
async def test_bad_slugs_are_refused_with_422(make_tenant: TenantFactory, slug: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        await make_tenant(slug)
    body = caught.value.body()
    assert caught.value.status_code == 422
    assert body["error"] == "validation_error"
    assert body["fields"][0]["loc"] == ["body", "slug"]


@pytest.mark.parametrize("slug", ["abc", "acme-corp", "a1b2", "x" * 40])
def test_good_slugs_pass(slug: str) -> None:
    from tenantry.platform.tenants.slugs import validate_slug

    assert validate_slug(slug) == slug


async def test_create_all_matches_replaying_every_migration(
    make_tenant: TenantFactory, database: Database
) -> None:
    """Provisioning's shortcut (create_all + stamp) must give what the migrations give."""
    provisioned = await make_tenant()
    replayed = "tenant_replay_check"
    async with database.engine.begin() as connection:
        await connection.execute(text(f'CREATE SCHEMA "{replayed}"'))
        await connection.run_sync(alembic_runner.upgrade_tenant_sync, replayed)
    try:
        assert await describe_schema(database, replayed) == await describe_schema(
            database, provisioned.schema
        )
    finally:
        async with database.engine.begin() as connection:
            await connection.execute(text(f'DROP SCHEMA "{replayed}" CASCADE'))


async def describe_schema(database: Database, schema: str) -> dict[str, object]:
    async with database.engine.connect() as connection:
        columns = (
            await connection.execute(
                text(
                    "SELECT table_name, column_name, data_type, is_nullable, column_default "
                    "FROM information_schema.columns WHERE table_schema = :s ORDER BY 1, 2"
                ),
                {"s": schema},
            )
        ).all()
        indexes = (
            await connection.execute(
                text(
                    "SELECT indexname, replace(indexdef, :s, 'S') FROM pg_indexes "
                    "WHERE schemaname = :s ORDER BY 1"
                ),
                {"s": schema},
            )
        ).all()
        constraints = (
            await connection.execute(
                text(
                    "SELECT conname, contype, replace(pg_get_constraintdef(c.oid), :s, 'S') "
                    "FROM pg_constraint c JOIN pg_namespace n ON n.oid = c.connamespace "
                    "WHERE n.nspname = :s ORDER BY 1"
                ),
                {"s": schema},
            )
        ).all()
        triggers = (
            await connection.execute(
                text(
                    "SELECT t.tgname, replace(pg_get_triggerdef(t.oid), :s, 'S') FROM pg_trigger t "
                    "JOIN pg_class c ON c.oid = t.tgrelid "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = :s AND NOT t.tgisinternal ORDER BY 1"
                ),
                {"s": schema},
            )
        ).all()
    return {
        "columns": columns,
        "indexes": indexes,
        "constraints": constraints,
        "triggers": triggers,
    }
