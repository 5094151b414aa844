"""A suspension made through one replica is enforced by every other, at once."""

import httpx

from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tests.fixtures.app import TenantFactory, client_for, running_app
from tests.fixtures.identity import Login, UserFactory, login
from tests.platform.conftest import TENANTS, eventually


async def test_second_replica_refuses_a_suspended_tenant(
    settings: Settings,
    client: httpx.AsyncClient,
    operator: Login,
    make_tenant: TenantFactory,
    make_user: UserFactory,
) -> None:
    tenant: Tenant = await make_tenant()
    async with running_app(settings) as replica, client_for(replica) as other:
        member = await login(other, await make_user(tenant))

        # The replica has now cached the tenant as active.
        assert (await other.get("/api/v1/users/me", headers=member.headers)).status_code == 200

        response = await client.post(f"{TENANTS}/{tenant.id}/suspend", headers=operator.headers)
        assert response.status_code == 200

        refused = await eventually(
            lambda: other.get("/api/v1/users/me", headers=member.headers), 403
        )
        assert refused.json()["error"] == "tenant_suspended"
        token = await other.post(
            "/api/v1/oauth/token",
            data={"grant_type": "refresh_token", "refresh_token": member.refresh_token},
            headers={"X-Tenant": tenant.slug},
        )
        assert (token.status_code, token.json()["error"]) == (403, "tenant_suspended")

        await client.post(f"{TENANTS}/{tenant.id}/resume", headers=operator.headers)
        # Back in service everywhere, but the sessions the suspension ended stay ended.
        ended = await eventually(lambda: other.get("/api/v1/users/me", headers=member.headers), 401)
        assert ended.status_code == 401
