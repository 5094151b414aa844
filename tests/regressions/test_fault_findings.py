"""What the fault suite (tests/hardening/test_faults.py) found, each kept as a plain test."""

import asyncio

import httpx
import pytest

from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tests.fixtures.app import client_for, running_app, runtime_of
from tests.fixtures.identity import Login, RoleUserFactory, login


@pytest.fixture
async def owner(client: httpx.AsyncClient, tenant: Tenant, make_admin: RoleUserFactory) -> Login:
    return await login(client, await make_admin(tenant, "owner"))


# A request held its pooled connection (the caller's session) while the policy cache built the
# tenant's enforcer through a second one. After any change to roles (or a listener reconnect, as
# after a database restart), a burst as large as the pool deadlocked until the pool timeout.
async def test_a_burst_after_a_policy_change_does_not_starve_the_pool(
    settings: Settings, owner: Login, tenant: Tenant
) -> None:
    small = settings.model_copy(
        update={"database_pool_size": 2, "database_max_overflow": 0, "database_pool_timeout": 2.0}
    )
    async with running_app(small) as app, client_for(app) as http:
        runtime_of(app).policies.invalidate(tenant.schema)
        async with asyncio.timeout(1.5):  # under the pool timeout: nobody may have waited it out
            answers = await asyncio.gather(
                *(http.get("/api/v1/users", headers=owner.headers) for _ in range(8))
            )
    assert [answer.status_code for answer in answers] == [200] * 8


# With every pooled connection busy past the pool timeout, SQLAlchemy raises its own
# TimeoutError, which is no DBAPIError: the request was a 500.
async def test_an_exhausted_pool_answers_503(
    settings: Settings, owner: Login, tenant: Tenant
) -> None:
    tiny = settings.model_copy(
        update={"database_pool_size": 1, "database_max_overflow": 0, "database_pool_timeout": 0.2}
    )
    async with running_app(tiny) as app, client_for(app) as http:
        assert (await http.get("/api/v1/users/me", headers=owner.headers)).status_code == 200
        async with runtime_of(app).database.engine.connect():  # the only connection, held
            response = await http.get("/api/v1/users/me", headers=owner.headers)
            ready = await http.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"] == "database_unavailable"
    assert ready.status_code == 503
