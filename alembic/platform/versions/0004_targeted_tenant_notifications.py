"""Registry notifications name the slugs and hostnames that changed.

Revision 0001 sent the table's name once per statement, and every replica dropped its whole
tenant directory on each one: with thousands of tenants, creating or suspending one made every
other tenant's next request a registry query again. A row trigger now sends
`{"slugs": [...], "hostnames": [...]}`: the old and new slug of a tenant row and the tenant's
custom domains (a suspension must reach requests that arrive by custom domain too), or the old
and new hostname of a domain row. Replicas drop those keys alone (`TenantDirectory`); a payload
they cannot read, such as 0001's table name, still drops everything, so replicas of either
version stay correct while a deployment rolls. A payload over NOTIFY's 8,000 bytes (more domains
than the API lets a tenant have) falls back to the table's name.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

SCHEMA = "platform"
TABLES = ("tenants", "tenant_domains")
# NOTIFY refuses payloads of 8,000 bytes or more.
MAX_PAYLOAD_BYTES = 7_900


def _replace_triggers(level: str) -> None:
    for table in TABLES:
        op.execute(f"DROP TRIGGER IF EXISTS {table}_notify ON {SCHEMA}.{table}")
        op.execute(
            f"CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE OR DELETE ON {SCHEMA}.{table} "
            f"FOR EACH {level} EXECUTE FUNCTION {SCHEMA}.notify_tenant_change()"
        )


def upgrade() -> None:
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {SCHEMA}.notify_tenant_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            slugs text[] := '{{}}';
            hostnames text[] := '{{}}';
            payload text;
        BEGIN
            IF TG_TABLE_NAME = 'tenants' THEN
                IF TG_OP <> 'INSERT' THEN
                    slugs := slugs || OLD.slug::text;
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    slugs := slugs || NEW.slug::text;
                END IF;
                hostnames := ARRAY(
                    SELECT hostname::text FROM {SCHEMA}.tenant_domains
                    WHERE tenant_id = COALESCE(NEW.id, OLD.id)
                );
            ELSE
                IF TG_OP <> 'INSERT' THEN
                    hostnames := hostnames || OLD.hostname::text;
                END IF;
                IF TG_OP <> 'DELETE' THEN
                    hostnames := hostnames || NEW.hostname::text;
                END IF;
            END IF;
            payload := json_build_object('slugs', slugs, 'hostnames', hostnames)::text;
            IF octet_length(payload) > {MAX_PAYLOAD_BYTES} THEN
                payload := TG_TABLE_NAME;
            END IF;
            PERFORM pg_notify('tenantry_tenants', payload);
            RETURN NULL;
        END $$
        """  # noqa: S608 - module constants, no input
    )
    _replace_triggers("ROW")


def downgrade() -> None:
    op.execute(
        f"""
        CREATE OR REPLACE FUNCTION {SCHEMA}.notify_tenant_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('tenantry_tenants', TG_TABLE_NAME);
            RETURN NULL;
        END $$
        """
    )
    _replace_triggers("STATEMENT")
