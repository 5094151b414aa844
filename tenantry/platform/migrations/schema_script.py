"""A new tenant schema at the head revision, as one SQL script sent in one round trip.

`create_all` sends each of its ~25 statements separately (prepare, then execute) and compiles
them anew for every tenant; that was most of a provisioning's time. The statements are the same
for every tenant but for the schema name, so they are compiled once per process with a
placeholder, and each provisioning substitutes its own schema and sends the whole script through
PostgreSQL's simple query protocol. A test checks that the result equals replaying every revision.
"""

import re
from functools import lru_cache

from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_mock_engine, insert
from sqlalchemy.engine.interfaces import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.schema import CreateTable, ExecutableDDLElement

from tenantry.core.database import count_schema_change
from tenantry.core.models import TENANT_SCHEMA, TenantBase
from tenantry.platform.migrations.alembic_runner import tenant_head
from tenantry.tenants import models as tenant_models
from tenantry.tenants.ddl import schema_extras

# Never a real schema (those are `tenant_<32 hex>`), and needs no quoting in SQL.
_PLACEHOLDER = "tenantry_schema_placeholder"
# The only names substituted into the script: built from a UUID, never from input.
_SCHEMA_NAME = re.compile(r"^tenant_[0-9a-f]{32}$")
_VERSION_TABLE = "alembic_version"


def _compile(element: ExecutableDDLElement, dialect: Dialect) -> str:
    compiled = element.compile(
        dialect=dialect,
        schema_translate_map={TENANT_SCHEMA: _PLACEHOLDER},
        render_schema_translate=True,
    )
    return str(compiled).strip()


@lru_cache(maxsize=1)
def _template() -> str:
    if not tenant_models.__all__:  # importing the module is what registers the tables
        raise RuntimeError("no tenant models registered")
    captured: list[ExecutableDDLElement] = []
    recorder = create_mock_engine(
        "postgresql+asyncpg://",
        lambda statement, *_args, **_kwargs: captured.append(statement),
    )
    TenantBase.metadata.create_all(recorder, checkfirst=False)
    dialect = recorder.dialect
    # Alembic's own version table, exactly as `stamp` would create it.
    context = MigrationContext.configure(dialect_name="postgresql")
    version_table = context.impl.version_table_impl(
        version_table=_VERSION_TABLE, version_table_schema=_PLACEHOLDER, version_table_pk=True
    )
    statements = [f"CREATE SCHEMA {_PLACEHOLDER}"]
    statements += [_compile(element, dialect) for element in captured]
    statements += schema_extras(_PLACEHOLDER)
    statements.append(_compile(CreateTable(version_table), dialect))
    stamp = insert(version_table).values(version_num=tenant_head())
    statements.append(str(stamp.compile(dialect=dialect, compile_kwargs={"literal_binds": True})))
    return ";\n".join(statements) + ";\n"


def tenant_schema_script(schema: str) -> str:
    """Create `schema` with every table, trigger and the version stamp at the head revision."""
    if not _SCHEMA_NAME.fullmatch(schema):
        raise ValueError(f"not a tenant schema name: {schema!r}")
    return _template().replace(_PLACEHOLDER, schema)


async def create_tenant_schema(connection: AsyncConnection, schema: str) -> None:
    """Run the script in the connection's open transaction (DDL is transactional in PostgreSQL)."""
    raw = await connection.get_raw_connection()
    # asyncpg's execute() without arguments uses the simple query protocol: one round trip for
    # a multi-statement script, which the prepared-statement path SQLAlchemy uses cannot do.
    await raw.driver_connection.execute(tenant_schema_script(schema))  # type: ignore[union-attr]
    await count_schema_change(connection)
