"""`Authorize("users:write")`: every tenant route declares the permission it needs."""

from typing import Annotated, Any

from fastapi import Depends, Request

from tenantry.core.authz.policy import TenantPolicy, builtin_policy, user_subject
from tenantry.core.dependencies import TenantSession, tenant_of
from tenantry.core.observability.metrics import AUTHZ_DENIALS
from tenantry.core.runtime import runtime_of
from tenantry.tenants.auth.dependencies import CurrentUser
from tenantry.tenants.roles.errors import PermissionDenied
from tenantry.tenants.users.models import User

PERMISSION_ATTRIBUTE = "required_permission"


async def tenant_policy(request: Request, session: TenantSession) -> TenantPolicy:
    # The request's own session (hence connection): see PolicyCache.get. Runtime and tenant come
    # from the request rather than as sub-dependencies (see tenantry.core.dependencies).
    return await runtime_of(request).policies.get(tenant_of(request), session)


Policy = Annotated[TenantPolicy, Depends(tenant_policy)]


def Authorize(permission: str) -> Any:
    """A dependency that returns the caller when they hold `permission`, else answers 403."""
    if permission not in builtin_policy().permissions:
        raise ValueError(f"{permission!r} is not in policies/roles.csv")

    async def authorize(user: CurrentUser, policy: Policy) -> User:
        if not policy.allows(user_subject(user.id), permission):
            AUTHZ_DENIALS.labels(permission=permission).inc()
            raise PermissionDenied(permission)
        return user

    setattr(authorize, PERMISSION_ATTRIBUTE, permission)
    return Depends(authorize)


SelfService = Annotated[User, Authorize("account:self")]
