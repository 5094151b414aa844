"""Authorization and administration: roles, assignments, invitations, the audit trail.

Revision ID: t0003
Revises: t0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from alembic import op
from tenantry.core.migrations import tenant_schema

revision: str = "t0003"
down_revision: str | None = "t0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TZ = sa.DateTime(timezone=True)
BUILTIN_ROLES = ("owner", "admin", "manager", "member")


def upgrade() -> None:
    schema = tenant_schema()
    op.create_table(
        "roles",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("description", sa.String(500), nullable=True),
        sa.Column("builtin", sa.Boolean(), server_default="false", nullable=False),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("updated_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_roles"),
        schema=schema,
    )
    op.create_index(
        "uq_roles_name_lower", "roles", [sa.text("lower(name)")], unique=True, schema=schema
    )
    op.create_table(
        "role_permissions",
        sa.Column("role_id", sa.Uuid(), nullable=False),
        sa.Column("permission", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("role_id", "permission", name="pk_role_permissions"),
        sa.ForeignKeyConstraint(
            ["role_id"], [f"{schema}.roles.id"],
            name="fk_role_permissions_role_id_roles", ondelete="CASCADE",
        ),
        schema=schema,
    )  # fmt: skip
    op.create_table(
        "user_roles",
        sa.Column("user_id", sa.Uuid(), nullable=False),
        sa.Column("role_id", sa.Uuid(), nullable=False),
        sa.Column("granted_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("granted_by", sa.Uuid(), nullable=True),
        sa.PrimaryKeyConstraint("user_id", "role_id", name="pk_user_roles"),
        sa.ForeignKeyConstraint(
            ["user_id"], [f"{schema}.users.id"],
            name="fk_user_roles_user_id_users", ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["role_id"], [f"{schema}.roles.id"],
            name="fk_user_roles_role_id_roles", ondelete="RESTRICT",
        ),
        schema=schema,
    )  # fmt: skip
    op.create_index("ix_user_roles_role_id", "user_roles", ["role_id"], schema=schema)
    op.create_table(
        "invitations",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role_ids", postgresql.ARRAY(sa.Uuid()), server_default="{}", nullable=False),
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        sa.Column("invited_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("last_sent_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("expires_at", TZ, nullable=False),
        sa.Column("accepted_at", TZ, nullable=True),
        sa.Column("revoked_at", TZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_invitations"),
        sa.UniqueConstraint("digest", name="uq_invitations_digest"),
        schema=schema,
    )
    op.create_index(
        "ix_invitations_email_lower", "invitations", [sa.text("lower(email)")], schema=schema
    )
    op.create_table(
        "audit_events",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("occurred_at", TZ, server_default=sa.func.now(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("actor_id", sa.Uuid(), nullable=True),
        sa.Column("actor_type", sa.String(16), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=True),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column("request_id", sa.String(128), nullable=True),
        sa.Column("ip_address", sa.String(64), nullable=True),
        sa.Column("details", postgresql.JSONB(), server_default="{}", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
        schema=schema,
    )
    op.create_index(
        "ix_audit_events_occurred_at_id", "audit_events",
        [sa.text("occurred_at DESC"), sa.text("id DESC")], schema=schema,
    )  # fmt: skip
    op.create_index("ix_audit_events_action", "audit_events", ["action"], schema=schema)
    op.create_index("ix_audit_events_actor_id", "audit_events", ["actor_id"], schema=schema)

    # Frozen copy of tenantry.tenants.ddl.schema_extras() as of this revision.
    for table in ("roles", "role_permissions", "user_roles"):
        op.execute(
            f"CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
            f'ON "{schema}".{table} FOR EACH STATEMENT '
            "EXECUTE FUNCTION platform.notify_authz_change()"
        )
    op.execute(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE "
        f'ON "{schema}".audit_events FOR EACH ROW EXECUTE FUNCTION platform.refuse_audit_change()'
    )
    op.execute(
        f'CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON "{schema}".audit_events '
        "FOR EACH STATEMENT EXECUTE FUNCTION platform.refuse_audit_change()"
    )
    # Existing tenants get the built-in roles; their first user (oldest) becomes the owner.
    roles = sa.table(
        "roles", sa.column("id", sa.Uuid()), sa.column("name"), sa.column("builtin"), schema=schema
    )
    op.execute(
        roles.insert().from_select(
            ["id", "name", "builtin"],
            sa.select(
                sa.func.gen_random_uuid(), sa.column("name"), sa.true()
            ).select_from(sa.values(sa.column("name", sa.String), name="b").data(
                [(name,) for name in BUILTIN_ROLES]
            )),
        )
    )  # fmt: skip
    # The schema name comes from the tenant id, never from input.
    op.execute(
        f'INSERT INTO "{schema}".user_roles (user_id, role_id) '  # noqa: S608
        f'SELECT u.id, r.id FROM "{schema}".users u, "{schema}".roles r '
        f"WHERE r.name = 'owner' AND u.id = ("
        f'SELECT id FROM "{schema}".users ORDER BY created_at, id LIMIT 1)'
    )


def downgrade() -> None:
    schema = tenant_schema()
    for table in ("audit_events", "invitations", "user_roles", "role_permissions", "roles"):
        op.drop_table(table, schema=schema)
