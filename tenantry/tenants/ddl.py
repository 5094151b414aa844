"""What a tenant schema has beyond its tables: triggers. Provisioning creates tables with
`create_all` and then runs these; the migration that introduced them runs the same statements
(a test compares a provisioned schema with one built by replaying every migration).

The trigger functions live once in the `platform` schema (platform migration 0002).
"""

AUTHZ_TABLES = ("roles", "role_permissions", "user_roles")


def schema_extras(schema: str) -> list[str]:
    """Statements to run in `schema` after its tables exist. `schema` comes from the tenant id."""
    statements = [
        f"CREATE TRIGGER {table}_notify AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
        f'ON "{schema}".{table} FOR EACH STATEMENT EXECUTE FUNCTION platform.notify_authz_change()'
        for table in AUTHZ_TABLES
    ]
    statements.append(
        "CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE "
        f'ON "{schema}".audit_events FOR EACH ROW EXECUTE FUNCTION platform.refuse_audit_change()'
    )
    statements.append(
        f'CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON "{schema}".audit_events '
        "FOR EACH STATEMENT EXECUTE FUNCTION platform.refuse_audit_change()"
    )
    return statements
