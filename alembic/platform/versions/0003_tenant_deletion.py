"""Two-step tenant deletion: when a tenant marked `deleting` may be purged.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26
"""

from collections.abc import Sequence

import sqlalchemy as sa

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "platform"


def upgrade() -> None:
    op.add_column(
        "tenants",
        sa.Column("purge_after", sa.DateTime(timezone=True), nullable=True),
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_column("tenants", "purge_after", schema=SCHEMA)
