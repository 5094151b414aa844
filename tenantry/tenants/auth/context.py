"""What the identity code needs to know about the tenant and the process, per request."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from tenantry.core.dependencies import CurrentTenant
from tenantry.core.email import Mailer
from tenantry.core.runtime import Runtime, runtime_of
from tenantry.core.security.keys import KeySet
from tenantry.core.security.passwords import PasswordHasher
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tenantry.core.tenancy.settings import TenantSettings, tenant_settings


def issuer_for(settings: Settings, tenant: Tenant) -> str:
    """The tenant's issuer URL (the `iss` claim, and where its discovery document lives).

    `TENANTRY_PUBLIC_URL` is a template with `{tenant}`, such as `https://{tenant}.id.example.com`.
    """
    template = settings.public_url or f"http://{{tenant}}.{settings.base_domain}:{settings.port}"
    return template.format(tenant=tenant.slug).rstrip("/")


@dataclass(frozen=True, slots=True)
class ClientInfo:
    ip_address: str | None
    user_agent: str | None


@dataclass(frozen=True, slots=True)
class IdentityContext:
    tenant: Tenant
    settings: TenantSettings
    issuer: str
    audience: str
    keys: KeySet
    hasher: PasswordHasher
    mailer: Mailer
    tenant_labels: bool = False


def identity_context(runtime: Runtime, tenant: Tenant) -> IdentityContext:
    return IdentityContext(
        tenant=tenant,
        settings=tenant_settings(tenant),
        issuer=issuer_for(runtime.settings, tenant),
        audience=runtime.settings.token_audience,
        keys=runtime.keys,
        hasher=runtime.hasher,
        mailer=runtime.mailer,
        tenant_labels=runtime.settings.metrics_tenant_labels,
    )


def client_of(request: Request) -> ClientInfo:
    """The caller's address and user agent (cut to what the session row keeps)."""
    user_agent = request.headers.get("user-agent")
    return ClientInfo(
        ip_address=request.client.host if request.client else None,
        user_agent=user_agent[:512] if user_agent else None,
    )


async def request_identity(request: Request, tenant: CurrentTenant) -> IdentityContext:
    # The runtime straight from the request, not as a sub-dependency (see
    # tenantry.core.dependencies): a login solves this. `tenant` stays declared: it is how a
    # route's dependency graph says it is tenant-bound.
    return identity_context(runtime_of(request), tenant)


async def client_info(request: Request) -> ClientInfo:
    return client_of(request)


Identity = Annotated[IdentityContext, Depends(request_identity)]
Client = Annotated[ClientInfo, Depends(client_info)]
