"""The `tenantry` command line (Typer): serve, develop, migrate, manage tenants."""

from tenantry.platform.cli.main import app, main

__all__ = ["app", "main"]
