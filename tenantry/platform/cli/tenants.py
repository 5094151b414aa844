"""`tenantry tenants ...`: the tenant lifecycle from a shell. Tenants are named by slug here; the
commands call the same service functions as /platform/v1/tenants."""

import os
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from rich.table import Table

from tenantry.core.database import Database
from tenantry.core.email import EmailDeliveryFailed, build_mailer
from tenantry.core.tenancy.context import TenantStatus
from tenantry.platform.cli.common import (
    JsonFlag,
    cli_settings,
    console,
    emit,
    fail,
    key_values,
    out,
    parse_settings,
    run,
    validated,
)
from tenantry.platform.identity import standalone_identities
from tenantry.platform.migrations.alembic_runner import tenant_head
from tenantry.platform.tenants import views
from tenantry.platform.tenants.lifecycle import tenant_lifecycle
from tenantry.platform.tenants.schemas import TenantCreate, TenantQuery, TenantRead, TenantUpdate
from tenantry.platform.tenants.service import tenant_service
from tenantry.platform.tenants.transfer import TenantExport, export_tenant, import_tenant
from tenantry.tenants.audit.service import AuditContext

app = typer.Typer(
    help="Create, inspect, suspend, delete, export and import tenants.", no_args_is_help=True
)

Slug = Annotated[str, typer.Argument(help="The tenant's slug.")]
Settings_ = Annotated[
    list[str] | None,
    typer.Option("--setting", help="key=value (JSON values; key=null resets). Repeatable."),
]
Yes = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
# Changes made from the shell: an operator with database access, not a user of the tenant.
CLI_AUDIT = AuditContext(actor_type="operator")


def show_tenant(tenant: TenantRead, extra: list[tuple[str, object]] | None = None) -> None:
    rows: list[tuple[str, object]] = [
        ("slug", tenant.slug),
        ("id", tenant.id),
        ("name", tenant.display_name),
        ("status", tenant.status.value),
        ("schema", f"{tenant.schema_name} at {tenant.schema_version}"),
        ("domains", ", ".join(tenant.domains) or "-"),
        ("issuer", tenant.urls.issuer),
        ("token endpoint", tenant.urls.token_endpoint),
    ]
    if tenant.purge_after is not None:
        rows.append(("purge after", tenant.purge_after.isoformat()))
    out.print(key_values(rows + (extra or [])))


@app.command()
def create(
    slug: Annotated[str, typer.Option(help="Lower-case letters, digits, hyphens; 3 to 40.")],
    name: Annotated[str, typer.Option(help="The organization's display name.")],
    admin_email: Annotated[str, typer.Option(help="Invited to become the tenant's owner.")],
    setting: Settings_ = None,
    domain: Annotated[list[str] | None, typer.Option(help="A custom domain. Repeatable.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """Provision a tenant and email its first administrator an invitation."""
    settings = cli_settings()
    body: TenantCreate = validated(
        TenantCreate,
        {
            "slug": slug,
            "display_name": name,
            "admin_email": admin_email,
            "settings": parse_settings(setting or [], as_json=as_json),
            "domains": domain or [],
        },
        as_json=as_json,
    )

    async def work(database: Database) -> tuple[dict[str, Any], bool]:
        async with database.platform_transaction() as session:
            created = await tenant_service.create(
                session,
                standalone_identities(settings),
                slug=body.slug,
                display_name=body.display_name,
                admin_email=str(body.admin_email),
                settings=body.settings,
                domains=body.domains,
                base_domain=settings.base_domain,
                audit=CLI_AUDIT,
            )
            view = views.tenant_created(created, settings)
        try:  # after the commit: a mail outage must not undo the tenant
            await build_mailer(settings).send(created.email)
        except EmailDeliveryFailed as exc:
            console.print(f"[yellow]warning:[/yellow] the invitation was not sent: {exc}")
            return view.model_dump(mode="json"), False
        return view.model_dump(mode="json"), True

    created, sent = run(settings, work, as_json=as_json)
    tenant = TenantRead.model_validate(created)
    invited = f"{created['invitation']['email']} ({'sent' if sent else 'NOT sent'})"
    emit(
        {**created, "invitation_sent": sent},
        as_json=as_json,
        human=lambda: show_tenant(tenant, [("invitation", invited)]),
    )


@app.command("list")
def list_(
    status: Annotated[
        TenantStatus | None, typer.Option(help="Only tenants in this status.")
    ] = None,
    search: Annotated[
        str | None, typer.Option("--search", "-q", help="Text in slug or name.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=500, help="Tenants per page.")] = 50,
    cursor: Annotated[str | None, typer.Option(help="next_cursor of the previous page.")] = None,
    as_json: JsonFlag = False,
) -> None:
    """List tenants by slug."""
    settings = cli_settings()
    query: TenantQuery = validated(
        TenantQuery,
        {"status": status, "q": search, "limit": limit, "cursor": cursor},
        as_json=as_json,
    )

    async def work(database: Database) -> dict[str, Any]:
        async with database.platform_session() as session:
            page = await tenant_lifecycle.page(session, query)
            items = [views.tenant_read(r, page.domains[r.id], settings) for r in page.items]
        return {
            "items": [i.model_dump(mode="json") for i in items],
            "next_cursor": page.next_cursor,
        }

    page = run(settings, work, as_json=as_json)

    def human() -> None:
        table = Table("slug", "name", "status", "domains", "created")
        for item in page["items"]:
            table.add_row(
                item["slug"],
                item["display_name"],
                item["status"],
                ", ".join(item["domains"]),
                item["created_at"][:19],
            )
        out.print(table)
        if page["next_cursor"]:
            console.print(f"more: tenantry tenants list --cursor {page['next_cursor']}")

    emit(page, as_json=as_json, human=human)


@app.command()
def show(slug: Slug, as_json: JsonFlag = False) -> None:
    """One tenant, with its user count and migration state."""
    settings = cli_settings()

    async def work(database: Database) -> dict[str, Any]:
        async with database.platform_session() as session:
            record = await tenant_lifecycle.get_by_slug(session, slug)
            detail = views.tenant_detail(
                record,
                await tenant_lifecycle.domains(session, record),
                settings,
                user_count=await tenant_lifecycle.user_count(session, record),
                head=tenant_head(),
            )
        return detail.model_dump(mode="json")

    detail = run(settings, work, as_json=as_json)
    emit(
        detail,
        as_json=as_json,
        human=lambda: show_tenant(
            TenantRead.model_validate(detail),
            [
                ("users", detail["user_count"]),
                ("schema current", detail["schema_current"]),
                ("settings", ", ".join(f"{k}={v}" for k, v in detail["settings"].items())),
            ],
        ),
    )


@app.command()
def update(
    slug: Slug,
    name: Annotated[str | None, typer.Option(help="A new display name.")] = None,
    rename: Annotated[str | None, typer.Option(help="A new slug (the schema stays).")] = None,
    add_domain: Annotated[list[str] | None, typer.Option(help="Repeatable.")] = None,
    remove_domain: Annotated[list[str] | None, typer.Option(help="Repeatable.")] = None,
    setting: Settings_ = None,
    as_json: JsonFlag = False,
) -> None:
    """Change a tenant's name, slug, domains or settings (all or none)."""
    settings = cli_settings()
    values: dict[str, Any] = {
        "display_name": name,
        "slug": rename,
        "add_domains": add_domain or [],
        "remove_domains": remove_domain or [],
    }
    if setting:
        values["settings"] = parse_settings(setting, as_json=as_json)
    changes: TenantUpdate = validated(TenantUpdate, values, as_json=as_json)

    async def work(database: Database) -> TenantRead:
        async with database.platform_transaction() as session:
            record = await tenant_lifecycle.get_by_slug(session, slug)
            await tenant_lifecycle.update(
                session, record.id, changes, base_domain=settings.base_domain, audit=CLI_AUDIT
            )
            return views.tenant_read(
                record, await tenant_lifecycle.domains(session, record), settings
            )

    tenant = run(settings, work, as_json=as_json)
    emit(tenant, as_json=as_json, human=lambda: show_tenant(tenant))


def _transition(slug: str, as_json: bool, action: str) -> None:
    settings = cli_settings()

    async def work(database: Database) -> TenantRead:
        async with database.platform_transaction() as session:
            record = await tenant_lifecycle.get_by_slug(session, slug)
            if action == "suspend":
                await tenant_lifecycle.suspend(session, record.id)
            elif action == "resume":
                await tenant_lifecycle.resume(session, record.id)
            else:
                grace = timedelta(hours=settings.tenant_deletion_grace_hours)
                await tenant_lifecycle.schedule_deletion(session, record.id, grace=grace)
            return views.tenant_read(
                record, await tenant_lifecycle.domains(session, record), settings
            )

    tenant = run(settings, work, as_json=as_json)
    emit(tenant, as_json=as_json, human=lambda: show_tenant(tenant))


@app.command()
def suspend(slug: Slug, as_json: JsonFlag = False) -> None:
    """Refuse the tenant's requests (403 tenant_suspended) and end all its sessions."""
    _transition(slug, as_json, "suspend")


@app.command()
def resume(slug: Slug, as_json: JsonFlag = False) -> None:
    """Serve a suspended tenant again, or cancel a deletion during its grace period."""
    _transition(slug, as_json, "resume")


@app.command()
def delete(slug: Slug, yes: Yes = False, as_json: JsonFlag = False) -> None:
    """Mark a tenant for deletion; `purge` drops it once the grace period is over."""
    if not yes:
        typer.confirm(f"Stop serving {slug} and schedule its deletion?", abort=True, err=True)
    _transition(slug, as_json, "delete")


@app.command()
def purge(
    slug: Slug,
    force: Annotated[bool, typer.Option(help="Skip what is left of the grace period.")] = False,
    yes: Yes = False,
    as_json: JsonFlag = False,
) -> None:
    """Drop a deleted tenant's schema and registry entry, for good."""
    settings = cli_settings()
    if not yes:
        typer.confirm(f"Drop {slug} and all its data for good?", abort=True, err=True)

    async def work(database: Database) -> dict[str, Any]:
        async with database.platform_transaction() as session:
            record = await tenant_lifecycle.get_by_slug(session, slug)
            await tenant_lifecycle.purge(session, record.id, force=force)
            return {"slug": record.slug, "id": str(record.id), "schema": record.schema_name}

    purged = run(settings, work, as_json=as_json)
    message = f"purged {slug} (schema {purged['schema']} dropped)"
    emit({**purged, "purged": True}, as_json=as_json, human=lambda: console.print(message))


@app.command()
def export(
    slug: Slug,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File (else stdout).")
    ] = None,
    include_password_hashes: Annotated[
        bool, typer.Option(help="Include password hashes: the file becomes a credential dump.")
    ] = False,
) -> None:
    """Write the tenant's users, roles, assignments and settings as JSON."""
    settings = cli_settings()

    async def work(database: Database) -> str:
        async with database.platform_session() as session:
            record = await tenant_lifecycle.get_by_slug(session, slug)
            document = await export_tenant(
                session, record.id, include_password_hashes=include_password_hashes
            )
        return document.model_dump_json(indent=2)

    text = run(settings, work, as_json=True)
    if output is None:
        typer.echo(text)
        return
    # Owner-only from the first byte: personal data, and maybe password hashes.
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text + "\n")
    console.print(f"exported {slug} to {output}")


@app.command("import")
def import_(
    file: Annotated[Path, typer.Argument(help="A `tenantry tenants export` file, or - for stdin.")],
    slug: Annotated[
        str | None, typer.Option(help="Use this slug instead of the exported one.")
    ] = None,
    domains: Annotated[bool, typer.Option(help="Register the exported custom domains.")] = True,
    as_json: JsonFlag = False,
) -> None:
    """Create a tenant from an export of this or another Tenantry."""
    settings = cli_settings()
    try:
        raw = typer.get_text_stream("stdin").read() if str(file) == "-" else file.read_text()
        document = TenantExport.model_validate_json(raw)
    except OSError as exc:
        fail("unreadable_file", str(exc), as_json=as_json, exit_code=2)
    except ValidationError as exc:
        fields = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors(include_input=False)]
        fail("invalid_export", "Not a tenant export.", as_json=as_json, fields=fields[:20])

    async def work(database: Database) -> TenantRead:
        async with database.platform_transaction() as session:
            record = await import_tenant(
                session, document, slug=slug, base_domain=settings.base_domain, with_domains=domains
            )
            return views.tenant_read(
                record, await tenant_lifecycle.domains(session, record), settings
            )

    tenant = run(settings, work, as_json=as_json)
    emit(
        tenant,
        as_json=as_json,
        human=lambda: show_tenant(
            tenant, [("imported", f"{len(document.users)} users, {len(document.roles)} roles")]
        ),
    )
