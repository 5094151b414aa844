"""Entry point: `tenantry --help`."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
import uvicorn
from rich.progress import Progress
from rich.table import Table

from tenantry.core.database import create_engine
from tenantry.core.observability.metrics import prepare_multiprocess_dir, worker_stopped
from tenantry.core.settings import Settings, get_settings
from tenantry.platform.cli.common import JsonFlag, cli_settings, console, out
from tenantry.platform.cli.dev import dev_command
from tenantry.platform.cli.operators import app as operators_app
from tenantry.platform.cli.tenants import app as tenants_app
from tenantry.platform.migrations.service import (
    BehindTenant,
    default_concurrency,
    fleet_status,
    upgrade_fleet,
)

# Rich tracebacks print local variables, which may hold secrets: keep them off.
app = typer.Typer(
    help="Tenantry: multi-tenant user management.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
db_app = typer.Typer(
    help="Migrate the platform schema and every tenant schema.", no_args_is_help=True
)
app.add_typer(db_app, name="db")
app.add_typer(tenants_app, name="tenants")
app.add_typer(operators_app, name="operators")
app.command("dev")(dev_command)

T = TypeVar("T")


def run_with_engine(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    async def runner() -> T:
        engine = create_engine(settings)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(runner())


@app.command()
def serve(
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API on TENANTRY_HOST:TENANTRY_PORT. Migrations are `tenantry db upgrade`."""
    settings = get_settings()
    if settings.database_url is None:
        console.print("[red]TENANTRY_DATABASE_URL is not set.[/red]")
        raise typer.Exit(2)
    prepare_multiprocess_dir()
    try:
        uvicorn.run(
            "tenantry.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=workers,
            access_log=False,  # structlog writes one access event per request
            proxy_headers=True,
            # On SIGTERM: stop accepting, let in-flight requests finish for this long, then run
            # the lifespan shutdown (LISTEN connection, pool).
            timeout_graceful_shutdown=settings.shutdown_timeout_seconds,
            timeout_worker_healthcheck=settings.worker_healthcheck_timeout_seconds,
        )
    finally:
        worker_stopped()  # with several workers, this is the supervisor's own metrics file


@db_app.command("upgrade")
def db_upgrade(
    concurrency: Annotated[
        int,
        typer.Option(
            min=1, help="Tenant schemas migrated at once, by worker processes (half the CPUs)."
        ),
    ] = default_concurrency(),
    as_json: JsonFlag = False,
) -> None:
    """Upgrade the platform schema, create the platform tenant if missing, then upgrade every
    tenant schema that is behind. Safe to rerun: it continues where a failure stopped it."""
    settings = cli_settings()
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("tenant schemas", total=None)

        def advance(_: BehindTenant, __: str | None) -> None:
            progress.advance(task)

        report = run_with_engine(
            settings,
            lambda engine: upgrade_fleet(engine, concurrency=concurrency, on_progress=advance),
        )
    summary = {
        "target": report.target,
        "upgraded": len(report.upgraded),
        "already_current": report.current,
        "failed": report.failed,
    }
    if as_json:
        typer.echo(json.dumps(summary))
    else:
        console.print(
            f"tenant schemas at {report.target}: {len(report.upgraded)} upgraded, "
            f"{report.current} already current, {len(report.failed)} failed"
        )
        for slug, reason in report.failed.items():
            console.print(f"  [red]{slug}[/red]: {reason}", highlight=False)
        if report.failed:
            console.print("fix the cause and run `tenantry db upgrade` again to continue")
    if not report.ok:
        raise typer.Exit(1)


@db_app.command("status")
def db_status(as_json: JsonFlag = False) -> None:
    """Show the migration head and the tenant schemas behind it (exit 1 when any is)."""
    settings = cli_settings()
    status = run_with_engine(settings, fleet_status)
    rows = [{"slug": t.slug, "schema": t.schema, "version": t.version} for t in status.behind]
    if as_json:
        typer.echo(json.dumps({"target": status.target, "tenants": status.total, "behind": rows}))
    else:
        console.print(f"{status.total} tenants; head {status.target}; {len(rows)} behind")
        if rows:
            table = Table("slug", "schema", "version")
            for row in rows:
                table.add_row(row["slug"], row["schema"], row["version"] or "unversioned")
            out.print(table)
    if rows:
        raise typer.Exit(1)


def main() -> None:
    app()
