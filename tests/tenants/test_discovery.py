"""JWKS and issuer metadata: a resource server can verify our tokens with nothing else."""

import httpx
import jwt

from tenantry.core.tenancy.context import Tenant
from tests.fixtures.identity import UserFactory, login


async def test_a_token_verifies_with_the_published_jwks(
    client: httpx.AsyncClient, tenant: Tenant, make_user: UserFactory
) -> None:
    session = await login(client, await make_user(tenant))
    headers = {"X-Tenant": tenant.slug}
    metadata = (await client.get("/.well-known/openid-configuration", headers=headers)).json()
    jwks = await client.get("/.well-known/jwks.json", headers=headers)
    assert jwks.headers["cache-control"].startswith("public")
    keys = jwt.PyJWKSet.from_dict(jwks.json())
    kid = jwt.get_unverified_header(session.access_token)["kid"]
    key = next(k for k in keys.keys if k.key_id == kid)
    claims = jwt.decode(
        session.access_token,
        key=key.key,
        algorithms=metadata["id_token_signing_alg_values_supported"],
        audience="tenantry",
        issuer=metadata["issuer"],
    )
    assert claims["tid"] == str(tenant.id)
    for member in jwks.json()["keys"]:
        assert not {"d", "p", "q", "dp", "dq", "qi"} & member.keys()


async def test_metadata_is_per_tenant(client: httpx.AsyncClient, make_tenant: object) -> None:
    first, second = await make_tenant(), await make_tenant()  # type: ignore[operator]
    docs = [
        (await client.get("/.well-known/openid-configuration", headers={"X-Tenant": t.slug})).json()
        for t in (first, second)
    ]
    assert docs[0]["issuer"] == f"http://{first.slug}.localhost:8000"
    assert docs[1]["issuer"] == f"http://{second.slug}.localhost:8000"
    assert docs[0]["token_endpoint"] == f"{docs[0]['issuer']}/api/v1/oauth/token"
    assert docs[0]["grant_types_supported"] == ["password", "refresh_token"]
    rfc8414 = await client.get(
        "/.well-known/oauth-authorization-server", headers={"X-Tenant": first.slug}
    )
    assert rfc8414.json() == docs[0]


async def test_metadata_needs_a_tenant(client: httpx.AsyncClient) -> None:
    response = await client.get("/.well-known/openid-configuration")
    assert response.json()["error"] == "tenant_required"


async def test_swagger_authorize_uses_the_token_endpoint(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    scheme = schema["components"]["securitySchemes"]["OAuth2PasswordBearer"]
    assert scheme["flows"]["password"]["tokenUrl"] == "/api/v1/oauth/token"
    me = schema["paths"]["/api/v1/users/me"]["get"]
    assert {"OAuth2PasswordBearer": []} in me["security"]
    assert (await client.get("/docs")).status_code == 200
