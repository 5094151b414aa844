"""The demo tenant that `make run` provisions, so a person can try the API straight away."""

import structlog

from tenantry.core.database import Database
from tenantry.platform.tenants.repository import TenantRepository
from tenantry.platform.tenants.service import tenant_service

log = structlog.get_logger(__name__)

DEMO_SLUG = "demo"


async def ensure_demo_tenant(database: Database) -> bool:
    """Provision `demo` unless it exists. Returns True when it was created now."""
    async with database.platform_transaction() as session:
        if await TenantRepository(session).slug_taken(DEMO_SLUG):
            return False
        await tenant_service.provision(session, slug=DEMO_SLUG, display_name="Demo Organization")
    log.info("demo.tenant_created", slug=DEMO_SLUG)
    return True
