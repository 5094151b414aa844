"""Run Alembic from code, on connections we own, for the platform schema and any tenant schema."""

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection

from alembic import command
from tenantry.core.database import schema_translated
from tenantry.core.migrations import Tree, alembic_config, head_revision
from tenantry.core.models import TenantBase
from tenantry.tenants import models as tenant_models
from tenantry.tenants.ddl import schema_extras


def upgrade_platform_sync(connection: Connection, revision: str = "head") -> None:
    config = alembic_config(Tree.PLATFORM)
    config.attributes["connection"] = connection
    command.upgrade(config, revision)


def upgrade_tenant_sync(connection: Connection, schema: str, revision: str = "head") -> None:
    config = alembic_config(Tree.TENANT)
    config.attributes["connection"] = connection
    config.attributes["schema"] = schema
    command.upgrade(config, revision)


def tenant_revision_sync(connection: Connection, schema: str) -> str | None:
    context = MigrationContext.configure(connection, opts={"version_table_schema": schema})
    return context.get_current_revision()


def create_tenant_tables_sync(connection: Connection, schema: str) -> None:
    """Create every tenant table at the head revision and stamp it, in the caller's transaction.

    Much faster than replaying every revision; a test checks that both give the same schema.
    """
    if not tenant_models.__all__:  # importing the module is what registers the tables
        raise RuntimeError("no tenant models registered")
    with schema_translated(connection, schema):
        # checkfirst=False: existence checks would look in the untranslated schema; ours is new.
        TenantBase.metadata.create_all(connection, checkfirst=False)
    for statement in schema_extras(schema):
        connection.exec_driver_sql(statement)
    context = MigrationContext.configure(connection, opts={"version_table_schema": schema})
    context.stamp(
        ScriptDirectory.from_config(alembic_config(Tree.TENANT)), head_revision(Tree.TENANT)
    )
