"""A standard OAuth 2.0 client library (Authlib), configured as a plain public client, works."""

import warnings

import httpx
from authlib.deprecate import AuthlibDeprecationWarning
from fastapi import FastAPI

from tenantry.core.tenancy.context import Tenant
from tests.fixtures.identity import UserFactory

with warnings.catch_warnings():
    # Authlib nudges towards its httpx2 module at import; its own module forces that warning on,
    # so the filter goes in after it is imported.
    warnings.simplefilter("ignore", AuthlibDeprecationWarning)
    from authlib.integrations.httpx_client import AsyncOAuth2Client


async def test_authlib_fetches_refreshes_and_revokes(
    app: FastAPI, tenant: Tenant, make_user: UserFactory
) -> None:
    account = await make_user(tenant)
    base = f"http://{tenant.slug}.localhost"  # the tenant's own host: no custom header needed
    token_url = f"{base}/api/v1/oauth/token"
    async with AsyncOAuth2Client(
        client_id="example-app",
        token_endpoint_auth_method="none",
        scope="openid profile email",
        transport=httpx.ASGITransport(app=app),
    ) as oauth:
        token = await oauth.fetch_token(
            token_url, grant_type="password", username=account.email, password=account.password
        )
        assert token["token_type"] == "Bearer"
        me = await oauth.get(f"{base}/api/v1/users/me")
        assert me.json()["email"] == account.email

        refreshed = await oauth.refresh_token(token_url, refresh_token=token["refresh_token"])
        assert refreshed["refresh_token"] != token["refresh_token"]
        assert (await oauth.get(f"{base}/api/v1/users/me")).status_code == 200

        revoked = await oauth.revoke_token(
            f"{base}/api/v1/oauth/revoke", token=refreshed["refresh_token"]
        )
        assert revoked.status_code == 200
        assert (await oauth.get(f"{base}/api/v1/users/me")).status_code == 401
