"""OAuth 2.0 token and revocation endpoints (RFC 6749, RFC 7009), logout."""

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Form, status
from fastapi.responses import JSONResponse, Response

from tenantry.core.api import API_V1, PASSWORD_WORK_ERRORS, TENANT_ERRORS, error_responses
from tenantry.core.dependencies import TenantSession
from tenantry.tenants.audit.service import Audit
from tenantry.tenants.auth.context import Client, Identity
from tenantry.tenants.auth.dependencies import CurrentClaims, throttle_token_endpoint
from tenantry.tenants.auth.oauth import NO_STORE, InvalidRequest, UnsupportedGrantType
from tenantry.tenants.auth.schemas import OAuthErrorBody, TokenRequest, TokenResponse
from tenantry.tenants.auth.service import IssuedTokens, auth_service
from tenantry.tenants.roles.dependencies import SelfService

router = APIRouter(prefix=API_V1, tags=["auth"], responses=TENANT_ERRORS)

OptionalField = Annotated[str | None, Form()]
_OAUTH_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"model": OAuthErrorBody, "description": "RFC 6749 error"},
    401: {"model": OAuthErrorBody, "description": "invalid_client"},
    429: {"description": "Too many attempts from this address; see Retry-After"},
    **PASSWORD_WORK_ERRORS,
}


def _token_response(tokens: IssuedTokens) -> JSONResponse:
    body = TokenResponse(
        access_token=tokens.access_token,
        expires_in=tokens.expires_in,
        refresh_token=tokens.refresh_token,
        scope=tokens.scope,
    )
    return JSONResponse(body.model_dump(), headers=NO_STORE)


def _required(value: str | None, name: str) -> str:
    if not value:
        raise InvalidRequest(f"The {name} parameter is required.")
    return value


@router.post(
    "/oauth/token",
    response_model=TokenResponse,
    responses=_OAUTH_ERRORS,
    dependencies=[Depends(throttle_token_endpoint)],
)
async def token(
    session: TenantSession,
    ctx: Identity,
    audit: Audit,
    client: Client,
    form: Annotated[TokenRequest, Form()],
) -> JSONResponse:
    """Issue tokens: `grant_type=password` (username is the email) or `refresh_token`."""
    # Parameters are checked here rather than by FastAPI (see `TokenRequest`).
    if form.grant_type == "password":
        tokens = await auth_service.password_grant(
            session,
            ctx,
            audit,
            email=_required(form.username, "username"),
            password=_required(form.password, "password"),
            scope=form.scope,
            client=client,
        )
    elif form.grant_type == "refresh_token":
        tokens = await auth_service.refresh_grant(
            session,
            ctx,
            audit,
            refresh_token=_required(form.refresh_token, "refresh_token"),
            scope=form.scope,
        )
    elif form.grant_type is None:
        raise InvalidRequest("The grant_type parameter is required.")
    else:
        raise UnsupportedGrantType()
    return _token_response(tokens)


# The answer has no body (RFC 7009 section 2.2), which `response_class` documents.
@router.post(
    "/oauth/revoke",
    status_code=status.HTTP_200_OK,
    response_class=Response,
    responses=_OAUTH_ERRORS,
)
async def revoke(
    session: TenantSession,
    ctx: Identity,
    audit: Audit,
    token: OptionalField = None,
    token_type_hint: OptionalField = None,
) -> Response:
    """Revoke a refresh or access token (RFC 7009); unknown tokens also answer 200."""
    del token_type_hint  # both kinds are looked up anyway, as RFC 7009 section 2.1 allows
    await auth_service.revoke_token(session, ctx, audit, _required(token, "token"))
    return Response(status_code=status.HTTP_200_OK, headers=NO_STORE)


@router.post("/auth/logout", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401))
async def logout(
    session: TenantSession, audit: Audit, claims: CurrentClaims, user: SelfService
) -> None:
    """End the session of the presented access token."""
    await auth_service.logout(session, audit.as_user(user.id), user.id, UUID(claims.sid))


@router.post(
    "/auth/logout-all", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(401)
)
async def logout_everywhere(session: TenantSession, audit: Audit, user: SelfService) -> None:
    """End every session of the caller, on every device."""
    await auth_service.logout_everywhere(session, audit.as_user(user.id), user.id)
