"""Trigger functions shared by every tenant schema: authorization change notices, and the refusal
that makes audit events append-only.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # The payload is the tenant's schema: each replica drops that tenant's enforcer only.
    op.execute(
        """
        CREATE FUNCTION platform.notify_authz_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('tenantry_authz', TG_TABLE_SCHEMA);
            RETURN NULL;
        END $$
        """
    )
    op.execute(
        """
        CREATE FUNCTION platform.refuse_audit_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'audit events are append-only (% refused)', TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END $$
        """
    )


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS platform.refuse_audit_change()")
    op.execute("DROP FUNCTION IF EXISTS platform.notify_authz_change()")
