"""Discovery for OAuth clients and resource servers: the JWK Set and the issuer metadata."""

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tenantry.core.api import TENANT_ERRORS
from tenantry.core.dependencies import RuntimeDep
from tenantry.tenants.auth.context import Identity
from tenantry.tenants.auth.service import SUPPORTED_SCOPES

router = APIRouter(prefix="/.well-known", tags=["discovery"], responses=TENANT_ERRORS)

# Resource servers cache the key set; rotation keeps old keys listed for longer than this.
_JWKS_CACHE = {"Cache-Control": "public, max-age=300"}


@router.get("/jwks.json")
async def jwks(runtime: RuntimeDep) -> JSONResponse:
    """The public keys that verify access tokens (RFC 7517). The same for every tenant."""
    return JSONResponse(runtime.keys.jwks(), headers=_JWKS_CACHE)


def _metadata(ctx: Identity) -> dict[str, Any]:
    # RFC 8414 authorization server metadata. Only the token endpoint exists (no browser flows
    # yet), so no authorization endpoint and no response types are advertised.
    return {
        "issuer": ctx.issuer,
        "token_endpoint": f"{ctx.issuer}/api/v1/oauth/token",
        "revocation_endpoint": f"{ctx.issuer}/api/v1/oauth/revoke",
        "jwks_uri": f"{ctx.issuer}/.well-known/jwks.json",
        "grant_types_supported": ["password", "refresh_token"],
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": ["none"],
        "revocation_endpoint_auth_methods_supported": ["none"],
        "scopes_supported": sorted(SUPPORTED_SCOPES),
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": list(ctx.keys.algorithms),
        "token_endpoint_auth_signing_alg_values_supported": list(ctx.keys.algorithms),
    }


@router.get("/openid-configuration")
async def openid_configuration(ctx: Identity) -> JSONResponse:
    """The tenant's issuer metadata, in the OpenID Connect discovery location."""
    return JSONResponse(_metadata(ctx), headers=_JWKS_CACHE)


@router.get("/oauth-authorization-server")
async def oauth_metadata(ctx: Identity) -> JSONResponse:
    """The tenant's issuer metadata, in the RFC 8414 location."""
    return JSONResponse(_metadata(ctx), headers=_JWKS_CACHE)
