"""User administration: indexes for keyset pagination of the user list.

Each sort of `GET /api/v1/users` walks one of these indexes from the cursor on, so the last page
of a large tenant costs what the first does. The id is the tie-breaker that makes keys unique.

Revision ID: t0004
Revises: t0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op
from tenantry.core.migrations import tenant_schema

revision: str = "t0004"
down_revision: str | None = "t0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

# Frozen copies of the expressions in tenantry.tenants.users.models as of this revision.
SORT_INDEXES = {
    "ix_users_created_at_id": ["created_at", "id"],
    "ix_users_email_sort": [sa.text("lower(email)"), "id"],
    "ix_users_display_name_sort": [sa.text("lower(coalesce(display_name, ''))"), "id"],
}


def upgrade() -> None:
    schema = tenant_schema()
    for name, columns in SORT_INDEXES.items():
        op.create_index(name, "users", columns, schema=schema)


def downgrade() -> None:
    schema = tenant_schema()
    for name in SORT_INDEXES:
        op.drop_index(name, table_name="users", schema=schema)
