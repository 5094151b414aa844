"""`tenantry dev` (what `make run` calls): a complete local service with no set-up at all."""

import asyncio
import os
import signal
from types import FrameType
from typing import Annotated

import typer
import uvicorn
from rich.console import Console

from tenantry.core.database import Database, create_engine
from tenantry.core.settings import Settings, get_settings, normalize_database_url
from tenantry.platform.demo import DEMO_SLUG, DemoAdmin, ensure_demo_tenant
from tenantry.platform.migrations.service import upgrade_fleet

console = Console(stderr=True)


async def prepare(settings: Settings) -> DemoAdmin:
    database = Database(create_engine(settings))
    try:
        report = await upgrade_fleet(database.engine)
        if not report.ok:
            raise RuntimeError(f"migrations failed: {report.failed}")
        return await ensure_demo_tenant(database, settings)
    finally:
        await database.dispose()


def login_instructions(settings: Settings, admin: DemoAdmin) -> str:
    base = f"http://{settings.host}:{settings.port}"
    tenant_host = f"http://{DEMO_SLUG}.{settings.base_domain}:{settings.port}"
    if admin.password_file is not None:
        password = f"{admin.password}  (kept in {admin.password_file})"
    else:
        password = admin.password or "as set by TENANTRY_DEMO_ADMIN_PASSWORD"
    return (
        f"\n[bold]Tenantry[/bold] listens on {base}\n"
        f"demo tenant: {tenant_host}  (or any URL with the header X-Tenant: {DEMO_SLUG})\n"
        f"demo admin:  {admin.email}\n"
        f"password:    {password}\n"
        f"Swagger UI:  {tenant_host}/docs, then Authorize with the email as username\n"
        f"curl:        curl -s {base}/api/v1/oauth/token -H 'X-Tenant: {DEMO_SLUG}' "
        f"-d grant_type=password -d username={admin.email} -d password=...\n"
        f"operators:   tenantry operators create --email you@example.com (with "
        f"TENANTRY_DATABASE_URL set to this database), then {base}/platform/v1/tenants with "
        f"X-Tenant: platform; see docs/operations.md\n"
    )


def _exit_on_sigterm(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def dev_command(
    migrate_only: Annotated[
        bool, typer.Option(help="Prepare the database and the demo tenant, then exit.")
    ] = False,
) -> None:
    """Start the service for development: embedded PostgreSQL, migrations, a demo tenant."""
    settings = get_settings()
    embedded = None
    if settings.database_url is None:
        from tenantry.devdb import EmbeddedPostgres  # a development dependency

        embedded = EmbeddedPostgres(settings.data_dir / "postgres")
        console.print(f"starting embedded PostgreSQL in {embedded.root} ...")
        url = embedded.start()
        # The app reads its settings from the environment, like in production.
        os.environ["TENANTRY_DATABASE_URL"] = normalize_database_url(url)
        get_settings.cache_clear()
        settings = get_settings()
        console.print(f"PostgreSQL listens at {url}")
    try:
        admin = asyncio.run(prepare(settings))
        console.print(login_instructions(settings, admin), highlight=False)
        if migrate_only:
            return
        # uvicorn shuts down gracefully, then re-raises the signal it caught. With Python's default
        # SIGTERM disposition that kills the process before the `finally` below stops PostgreSQL.
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
        uvicorn.run(
            "tenantry.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            access_log=False,  # structlog writes one access event per request
        )
    finally:
        if embedded is not None:
            embedded.stop()
