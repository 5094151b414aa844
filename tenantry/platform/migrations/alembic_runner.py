"""Run Alembic from code, on connections we own, for the platform schema and any tenant schema.

The tenant tree's `ScriptDirectory` is parsed once per process and location: building it reads
every revision file, which would otherwise cost more than a small migration itself when a fleet of
thousands of schemas is upgraded. `script_location` is overridable so that tests (and benchmarks)
can run a copy of the tree with an extra revision, without touching the real one.

Alembic installs `alembic.op` and `alembic.context` as module globals while a migration runs, so
two migrations must never interleave in one process (not even as two asyncio tasks: a revision's
await would let the other swap the globals). The fleet runner parallelises with processes.
"""

from functools import lru_cache

from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.runtime.migration import MigrationContext, RevisionStep
from alembic.script import ScriptDirectory
from sqlalchemy import Column, Connection, MetaData, String, Table

from alembic import command
from tenantry.core.database import schema_translated
from tenantry.core.migrations import Tree, alembic_config
from tenantry.core.models import TenantBase
from tenantry.tenants import models as tenant_models
from tenantry.tenants.ddl import schema_extras

VERSION_TABLE = "alembic_version"


def upgrade_platform_sync(connection: Connection, revision: str = "head") -> None:
    config = alembic_config(Tree.PLATFORM)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def tenant_config(script_location: str | None = None) -> Config:
    config = alembic_config(Tree.TENANT)
    if script_location is not None:
        config.set_main_option("script_location", script_location)
    return config


@lru_cache(maxsize=8)
def tenant_scripts(script_location: str | None = None) -> ScriptDirectory:
    return ScriptDirectory.from_config(tenant_config(script_location))


def tenant_head(script_location: str | None = None) -> str:
    head = tenant_scripts(script_location).get_current_head()
    if head is None:
        raise RuntimeError("the tenant migration tree has no revisions")
    return head


def upgrade_path(current: str | None, target: str, script_location: str | None = None) -> list[str]:
    """The revisions from `current` (exclusive) up to `target` (inclusive), oldest first."""
    if current == target:
        return []
    scripts = tenant_scripts(script_location)
    steps = scripts.iterate_revisions(target, current or "base")
    return [step.revision for step in reversed(list(steps))]


def upgrade_tenant_sync(
    connection: Connection,
    schema: str,
    revision: str = "head",
    script_location: str | None = None,
) -> None:
    """`alembic upgrade` for one schema, in the caller's transaction (what `command.upgrade` does,
    with the cached script directory)."""
    config = tenant_config(script_location)
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    scripts = tenant_scripts(script_location)

    def upgrade(current: str, _context: MigrationContext) -> list[RevisionStep]:
        return scripts._upgrade_revs(revision, current)

    with EnvironmentContext(config, scripts, fn=upgrade, destination_rev=revision):
        scripts.run_env()


def version_table(schema: str) -> Table:
    """A schema's Alembic version table, to read it without Alembic's existence check (a
    catalog query per call, which every tenant schema would pay during a fleet upgrade)."""
    return Table(VERSION_TABLE, MetaData(), Column("version_num", String(32)), schema=schema)


def tenant_revision_sync(connection: Connection, schema: str) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table_schema": schema})
    return context.get_current_revision()


def create_tenant_tables_sync(connection: Connection, schema: str) -> None:
    """Create every tenant table at the head revision and stamp it, statement by statement.

    The reference for `schema_script` (provisioning's fast path), which tests compare with it.
    """
    if not tenant_models.__all__:  # importing the module is what registers the tables
        raise RuntimeError("no tenant models registered")
    with schema_translated(connection, schema):
        # checkfirst=False: existence checks would look in the untranslated schema; ours is new.
        TenantBase.metadata.create_all(connection, checkfirst=False)
    for statement in schema_extras(schema):
        connection.exec_driver_sql(statement)
    context = MigrationContext.configure(connection, opts={"version_table_schema": schema})
    context.stamp(tenant_scripts(), tenant_head())
