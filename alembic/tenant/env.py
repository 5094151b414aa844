"""Migrations applied to each tenant schema.

Revisions address the real schema through `tenantry.core.migrations.tenant_schema()` (Alembic's
ALTER operations ignore `schema_translate_map`); the map stays on as a safety net for anything
written against the placeholder `tenant`. Each schema keeps its own `alembic_version` table.
"""

from sqlalchemy.engine import Connection

from alembic import context
from tenantry.core.database import schema_translated
from tenantry.core.models import TenantBase
from tenantry.tenants import models  # noqa: F401  (registers every tenant-plane table)


def run(connection: Connection, schema: str) -> None:
    with schema_translated(connection, schema):
        context.configure(
            connection=connection,
            target_metadata=TenantBase.metadata,
            version_table_schema=schema,
            transaction_per_migration=False,
        )
        with context.begin_transaction():
            context.run_migrations()


connection = context.config.attributes.get("connection")
schema = context.config.attributes.get("schema")
if connection is None or schema is None:
    raise RuntimeError("run tenant migrations with `tenantry db upgrade`")
run(connection, schema)
