"""Entry point: `tenantry --help`."""

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
import uvicorn
from rich.console import Console
from rich.progress import Progress

from tenantry.core.database import create_engine
from tenantry.core.observability.metrics import prepare_multiprocess_dir, worker_stopped
from tenantry.core.settings import Settings, get_settings
from tenantry.platform.cli.dev import dev_command
from tenantry.platform.migrations.service import BehindTenant, tenants_behind, upgrade_fleet

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
app.command("dev")(dev_command)

console = Console(stderr=True)
T = TypeVar("T")


def run_with_engine(settings: Settings, work: Callable[..., Awaitable[T]]) -> T:
    async def runner() -> T:
        engine = create_engine(settings)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(runner())


def require_database(settings: Settings) -> None:
    if settings.database_url is None:
        console.print("[red]TENANTRY_DATABASE_URL is not set.[/red]")
        raise typer.Exit(2)


@app.command()
def serve(
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
) -> None:
    """Serve the API on TENANTRY_HOST:TENANTRY_PORT. Migrations are `tenantry db upgrade`."""
    settings = get_settings()
    require_database(settings)
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
        )
    finally:
        worker_stopped()  # with several workers, this is the supervisor's own metrics file


@db_app.command("upgrade")
def db_upgrade(
    concurrency: Annotated[int, typer.Option(min=1, help="Tenant schemas migrated at once.")] = 4,
    as_json: Annotated[bool, typer.Option("--json", help="Print a JSON summary.")] = False,
) -> None:
    """Upgrade the platform schema, then every tenant schema that is behind."""
    settings = get_settings()
    require_database(settings)
    with Progress(console=console, transient=True, disable=as_json) as progress:
        task = progress.add_task("tenants", total=None)

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
            console.print(f"  [red]{slug}[/red]: {reason}")
    if not report.ok:
        raise typer.Exit(1)


@db_app.command("status")
def db_status(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """List the tenant schemas that are behind the migration head."""
    settings = get_settings()
    require_database(settings)
    behind = run_with_engine(settings, tenants_behind)
    rows = [{"slug": t.slug, "schema": t.schema, "version": t.version} for t in behind]
    if as_json:
        typer.echo(json.dumps({"behind": rows}))
    elif not rows:
        console.print("every tenant schema is at head")
    else:
        for row in rows:
            console.print(f"{row['slug']}: {row['version'] or 'unversioned'}")


def main() -> None:
    app()
