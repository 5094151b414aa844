"""Registry rows as the API and the CLI show them."""

from tenantry.core.api import API_V1
from tenantry.core.settings import Settings
from tenantry.platform.tenants.models import TenantRecord
from tenantry.platform.tenants.schemas import (
    InvitationSent,
    TenantCreated,
    TenantDetail,
    TenantRead,
    TenantUrls,
)
from tenantry.platform.tenants.service import CreatedTenant
from tenantry.platform.tenants.settings import effective_settings
from tenantry.tenants.auth.context import issuer_for


def tenant_urls(record: TenantRecord, settings: Settings) -> TenantUrls:
    issuer = issuer_for(settings, record.to_tenant())
    return TenantUrls(
        issuer=issuer,
        api=f"{issuer}{API_V1}",
        token_endpoint=f"{issuer}{API_V1}/oauth/token",
        openid_configuration=f"{issuer}/.well-known/openid-configuration",
    )


def tenant_read(record: TenantRecord, domains: list[str], settings: Settings) -> TenantRead:
    return TenantRead(
        id=record.id,
        slug=record.slug,
        display_name=record.display_name,
        status=record.status,
        schema_name=record.schema_name,
        schema_version=record.schema_version,
        settings=effective_settings(record.settings or {}),
        domains=domains,
        purge_after=record.purge_after,
        created_at=record.created_at,
        updated_at=record.updated_at,
        urls=tenant_urls(record, settings),
    )


def tenant_detail(
    record: TenantRecord, domains: list[str], settings: Settings, *, user_count: int, head: str
) -> TenantDetail:
    return TenantDetail(
        **tenant_read(record, domains, settings).model_dump(),
        user_count=user_count,
        schema_current=record.schema_version == head,
    )


def tenant_created(created: CreatedTenant, settings: Settings) -> TenantCreated:
    return TenantCreated(
        **tenant_read(created.record, created.domains, settings).model_dump(),
        invitation=InvitationSent(
            email=created.invitation.email, expires_at=created.invitation.expires_at
        ),
    )
