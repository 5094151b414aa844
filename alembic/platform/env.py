"""Migrations of the control-plane schema `platform`.

Run from code (`tenantry db upgrade`), which hands over an open connection in
`config.attributes["connection"]`.
"""

from sqlalchemy.engine import Connection
from sqlalchemy.schema import CreateSchema

from alembic import context
from tenantry.core.models import PLATFORM_SCHEMA, PlatformBase
from tenantry.platform import models  # noqa: F401  (registers every control-plane table)


def run(connection: Connection) -> None:
    # The version table lives in the schema, so the schema must exist before Alembic looks.
    connection.execute(CreateSchema(PLATFORM_SCHEMA, if_not_exists=True))
    context.configure(
        connection=connection,
        target_metadata=PlatformBase.metadata,
        version_table_schema=PLATFORM_SCHEMA,
        include_schemas=True,
        transaction_per_migration=False,
    )
    with context.begin_transaction():
        context.run_migrations()


connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run platform migrations with `tenantry db upgrade`")
run(connection)
