"""Tenant registry, custom domains, and change notifications for replica caches.

Revision ID: 0001
Revises:
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "platform"


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("slug", sa.String(40), nullable=False),
        sa.Column("display_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("schema_name", sa.String(63), nullable=False),
        sa.Column("schema_version", sa.String(64), nullable=True),
        sa.Column("settings", postgresql.JSONB(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
        sa.UniqueConstraint("slug", name="uq_tenants_slug"),
        sa.UniqueConstraint("schema_name", name="uq_tenants_schema_name"),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'deleting')", name="ck_tenants_status"
        ),
        schema=SCHEMA,
    )
    op.create_table(
        "tenant_domains",
        sa.Column("hostname", sa.Text(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
        sa.PrimaryKeyConstraint("hostname", name="pk_tenant_domains"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            [f"{SCHEMA}.tenants.id"],
            name="fk_tenant_domains_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_tenant_domains_tenant_id", "tenant_domains", ["tenant_id"], schema=SCHEMA)
    # Every change to the registry tells every replica to drop its tenant cache. A trigger, not
    # application code, so that a change made by hand in SQL is seen too.
    op.execute(
        f"""
        CREATE FUNCTION {SCHEMA}.notify_tenant_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('tenantry_tenants', TG_TABLE_NAME);
            RETURN NULL;
        END $$
        """
    )
    for table in ("tenants", "tenant_domains"):
        op.execute(
            f"CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE OR DELETE ON {SCHEMA}.{table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION {SCHEMA}.notify_tenant_change()"
        )


def downgrade() -> None:
    op.drop_table("tenant_domains", schema=SCHEMA)
    op.drop_table("tenants", schema=SCHEMA)
    op.execute(f"DROP FUNCTION IF EXISTS {SCHEMA}.notify_tenant_change()")
