"""What every control-plane route depends on.

The control plane lives in the reserved `platform` tenant: its routes authenticate with the
tenant plane's own tokens and permissions, but only on that tenant. On any other tenant they
answer 404, before looking at the token: for an organization's users, administrators included,
the control plane does not exist (nothing to probe, nothing to guess at). On the platform
tenant, a caller without the operator role gets 403 like on any tenant route.
"""

from typing import Annotated, Any

from fastapi import Depends

from tenantry.core.dependencies import CurrentTenant, RuntimeDep
from tenantry.core.errors import NotFound
from tenantry.core.tenancy.context import Tenant
from tenantry.platform.tenants.service import IdentityFactory
from tenantry.tenants.audit.service import AuditContext
from tenantry.tenants.auth.context import IdentityContext, identity_context
from tenantry.tenants.roles.dependencies import Authorize
from tenantry.tenants.users.models import User

PLATFORM_V1 = "/platform/v1"
PLATFORM_TENANT_ONLY = "platform_tenant_only"


class ControlPlaneNotHere(NotFound):
    detail = "The resource does not exist."


async def platform_tenant_only(tenant: CurrentTenant) -> Tenant:
    if not tenant.is_platform:
        raise ControlPlaneNotHere()
    return tenant


setattr(platform_tenant_only, PLATFORM_TENANT_ONLY, True)

# Router-level: FastAPI runs it before the route's own dependencies (the token check).
OnPlatformTenant: Any = Depends(platform_tenant_only)


async def identities(runtime: RuntimeDep) -> IdentityFactory:
    """The identity context of any tenant (the one being created, say), as its requests see it."""

    def identity(tenant: Tenant) -> IdentityContext:
        return identity_context(runtime, tenant)

    return identity


Identities = Annotated[IdentityFactory, Depends(identities)]


def operator_audit(audit: AuditContext, operator: User) -> AuditContext:
    """Events an operator causes inside a tenant name them as an operator, not a user of it."""
    return AuditContext(operator.id, "operator", audit.request_id, audit.ip_address)


TenantOperator = Annotated[User, Authorize("platform:tenants")]
OperatorsAdmin = Annotated[User, Authorize("platform:operators")]
