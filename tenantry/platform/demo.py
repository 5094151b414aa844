"""The demo tenant that `make run` provisions, with an admin who can log in straight away."""

import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import structlog

from tenantry.core.database import Database
from tenantry.core.security.passwords import PasswordHasher
from tenantry.core.settings import Settings
from tenantry.platform.tenants.repository import TenantRepository
from tenantry.platform.tenants.service import tenant_service
from tenantry.tenants.roles.service import role_service
from tenantry.tenants.users.repository import UserRepository
from tenantry.tenants.users.service import user_service

log = structlog.get_logger(__name__)

DEMO_SLUG = "demo"


@dataclass(frozen=True, slots=True)
class DemoAdmin:
    email: str
    password: str | None  # None when an earlier run created the admin and nothing was set
    password_file: Path | None


def _password_file(settings: Settings) -> Path:
    return settings.data_dir / "demo-admin-password.txt"


def _choose_password(settings: Settings) -> tuple[str, Path | None]:
    if settings.demo_admin_password is not None:
        return settings.demo_admin_password.get_secret_value(), None
    path = _password_file(settings)
    password = secrets.token_urlsafe(12)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Readable by its owner only: it is a working credential of the local demo.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password, path


async def ensure_demo_tenant(database: Database, settings: Settings) -> DemoAdmin:
    """Provision `demo` and its admin unless they exist; report how to log in."""
    hasher = PasswordHasher.from_settings(settings)
    email = settings.demo_admin_email
    async with database.platform_transaction() as session:
        record = await TenantRepository(session).get_by_slug(DEMO_SLUG)
        if record is None:
            record = await tenant_service.provision(
                session, slug=DEMO_SLUG, display_name="Demo Organization"
            )
            log.info("demo.tenant_created", slug=DEMO_SLUG)
    async with database.tenant_transaction(record.schema_name) as session:
        admin = await UserRepository(session).get_by_email(email)
        if admin is not None and settings.demo_admin_password is None:
            saved = _password_file(settings)
            known = saved.read_text().strip() if saved.exists() else None
            return DemoAdmin(email, known, saved if known else None)
        password, path = _choose_password(settings)
        password_hash = await hasher.hash(password)
        if admin is None:
            admin = await user_service.create(
                session, email=email, password_hash=password_hash, email_verified=True,
                display_name="Demo Admin",
            )  # fmt: skip
            await role_service.grant_builtin(session, admin, "owner")
        else:
            admin.password_hash = password_hash
        return DemoAdmin(email, password, path)
