"""Authentication for tenant routes: a bearer access token bound to the resolved tenant.

Transport and strategy are apart (as in fastapi-users): `OAuth2PasswordBearer` finds the token in
the `Authorization` header (and makes Swagger UI's Authorize button work); `verify_access_token`
decides whether it is good.
"""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from tenantry.core.clock import utcnow
from tenantry.core.dependencies import TenantSession, tenant_of
from tenantry.core.errors import TooManyRequests, Unauthorized
from tenantry.core.observability.metrics import RATE_LIMITED
from tenantry.core.runtime import runtime_of
from tenantry.core.security.tokens import AccessTokenClaims, InvalidToken, verify_access_token
from tenantry.tenants.auth.context import client_of, issuer_for
from tenantry.tenants.users.models import User
from tenantry.tenants.users.repository import UserRepository

TOKEN_URL = "/api/v1/oauth/token"  # noqa: S105 - a path, not a secret

bearer_transport = OAuth2PasswordBearer(tokenUrl=TOKEN_URL, auto_error=False)


async def access_claims(
    request: Request, token: Annotated[str | None, Depends(bearer_transport)]
) -> AccessTokenClaims:
    if not token:
        raise Unauthorized("A bearer access token is required.")
    # The runtime and tenant straight from the request, not as sub-dependencies: see
    # tenantry.core.dependencies.
    runtime, tenant = runtime_of(request), tenant_of(request)
    claims = verify_access_token(
        runtime.keys,
        token,
        issuer=issuer_for(runtime.settings, tenant),
        audience=runtime.settings.token_audience,
        tenant_id=str(tenant.id),
    )
    request.scope.setdefault("state", {})["user_id"] = claims.sub
    return claims


CurrentClaims = Annotated[AccessTokenClaims, Depends(access_claims)]


async def current_user(claims: CurrentClaims, session: TenantSession) -> User:
    """The caller, while their session is alive and their account active.

    Checking the session here (one indexed join with the user read we need anyway) makes logout
    and revocation take effect at once instead of when the access token expires.
    """
    user = await UserRepository(session).get_for_session(
        UUID(claims.sub), UUID(claims.sid), utcnow()
    )
    if user is None or not user.is_active:
        raise InvalidToken("The session has ended.")
    return user


CurrentUser = Annotated[User, Depends(current_user)]


async def throttle_token_endpoint(request: Request) -> None:
    """Per-IP throttling of credential guessing; shared across replicas when Redis is set."""
    runtime = runtime_of(request)
    decision = await runtime.limiter.hit(
        runtime.settings.rate_limit_token_endpoint,
        "token",
        client_of(request).ip_address or "unknown",
    )
    if not decision.allowed:
        RATE_LIMITED.labels(scope="token").inc()
        raise TooManyRequests(headers={"Retry-After": str(decision.retry_after)})
