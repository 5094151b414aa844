"""Every tenant route against a caller from another tenant: their token, their ids, their header.

Two organizations, `home` (the attacker's own) and `victim`, each with an owner, a member, a custom
role, a pending invitation and a live session. Each attack uses a request that would succeed for
the right caller, then checks the answer and that the victim's schema is unchanged row for row.
"""

import httpx
import pytest

from tenantry.core.database import Database
from tenantry.core.runtime import Runtime
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import RoleUserFactory, UserFactory
from tests.hardening.attacks import (
    EXAMPLES,
    Org,
    Route,
    build_org,
    host_for,
    pool_checkouts,
    route_ids,
    snapshot,
    tenant_routes,
)

ROUTES = tenant_routes()
AUTHENTICATED = [route for route in ROUTES if route.needs_token]
NAMING_IDS = [route for route in AUTHENTICATED if route.names_an_id]


@pytest.fixture(scope="module")
async def home(
    http: httpx.AsyncClient,
    make_tenant: TenantFactory,
    make_admin: RoleUserFactory,
    make_user: UserFactory,
) -> Org:
    return await build_org(http, make_tenant, make_admin, make_user)


@pytest.fixture(scope="module")
async def victim(
    http: httpx.AsyncClient,
    make_tenant: TenantFactory,
    make_admin: RoleUserFactory,
    make_user: UserFactory,
) -> Org:
    return await build_org(http, make_tenant, make_admin, make_user)


def test_every_tenant_route_has_an_example() -> None:
    assert {(route.method, route.path) for route in ROUTES} == EXAMPLES.keys()
    assert len(AUTHENTICATED) > 20
    assert len(NAMING_IDS) > 10


@pytest.mark.parametrize("route", AUTHENTICATED, ids=route_ids(AUTHENTICATED))
async def test_another_tenants_token_gets_401(
    route: Route,
    http: httpx.AsyncClient,
    home: Org,
    victim: Org,
    database: Database,
    runtime: Runtime,
) -> None:
    before = await snapshot(database, victim.tenant)
    example = route.example(victim)
    headers = {"X-Tenant": victim.tenant.slug, "Authorization": f"Bearer {home.owner.access_token}"}
    # A cold policy cache makes any authorization work before authentication visible as a read.
    runtime.policies.invalidate(victim.tenant.schema)
    with pool_checkouts(database) as reads:
        response = await http.request(
            route.method, example.path, headers=headers, **example.send_kwargs()
        )
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_token"
    assert reads == [], "the database was read before the token was checked"
    assert await snapshot(database, victim.tenant) == before


@pytest.mark.parametrize("route", NAMING_IDS, ids=route_ids(NAMING_IDS))
async def test_another_tenants_ids_get_404_in_ones_own_tenant(
    route: Route, http: httpx.AsyncClient, home: Org, victim: Org, database: Database
) -> None:
    before = await snapshot(database, victim.tenant)
    # The victim's ids in the path, a body that is valid in the attacker's own tenant.
    own = route.example(home)
    own.path = route.example(victim).path
    response = await http.request(
        route.method, own.path, headers=home.owner.headers, **own.send_kwargs()
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"].endswith("_not_found")
    assert await snapshot(database, victim.tenant) == before


async def test_another_tenants_ids_in_bodies_and_filters_find_nothing(
    http: httpx.AsyncClient, home: Org, victim: Org, database: Database
) -> None:
    before = await snapshot(database, victim.tenant)
    headers = home.owner.headers
    foreign_role = [victim.role_id]
    refused = [
        await http.put(
            f"/api/v1/users/{home.member.user_id}/roles",
            json={"role_ids": foreign_role},
            headers=headers,
        ),
        await http.post(
            "/api/v1/users",
            json={
                "email": "x@example.com",
                "password": "a long passphrase",
                "role_ids": foreign_role,
            },
            headers=headers,
        ),
        await http.post(
            "/api/v1/invitations",
            json={"email": "y@example.com", "role_ids": foreign_role},
            headers=headers,
        ),
        await http.delete(
            f"/api/v1/roles/{home.role_id}",
            params={"reassign_to": victim.role_id},
            headers=headers,
        ),
    ]
    for response in refused:
        assert response.status_code == 404, (response.request.url, response.text)
        assert response.json()["error"] == "role_not_found"
    holders = await http.get("/api/v1/users", params={"role": victim.role_id}, headers=headers)
    assert holders.status_code == 200
    assert holders.json()["items"] == []
    trail = await http.get(
        "/api/v1/audit-events",
        params={"actor_id": str(victim.owner.account.user_id)},
        headers=headers,
    )
    assert trail.status_code == 200
    assert trail.json()["items"] == []
    revoked = await http.post(
        "/api/v1/oauth/revoke", data={"token": victim.owner.refresh_token}, headers=headers
    )
    assert revoked.status_code == 200  # RFC 7009: unknown tokens answer 200 too
    assert await snapshot(database, victim.tenant) == before
    assert (await http.get("/api/v1/users/me", headers=victim.owner.headers)).status_code == 200


@pytest.mark.parametrize("route", ROUTES, ids=route_ids(ROUTES))
async def test_spoofed_tenant_header_against_a_host_tenant_gets_400(
    route: Route, http: httpx.AsyncClient, home: Org, victim: Org, database: Database
) -> None:
    before = await snapshot(database, victim.tenant), await snapshot(database, home.tenant)
    # The victim's credentials and ids, sent to the home tenant's host with the victim's header:
    # were the header to win, this request would succeed in the victim's tenant.
    example = route.example(victim)
    headers = {
        "Host": host_for(home.tenant),
        "X-Tenant": victim.tenant.slug,
        "Authorization": f"Bearer {victim.owner.access_token}",
    }
    with pool_checkouts(database) as reads:
        response = await http.request(
            route.method, example.path, headers=headers, **example.send_kwargs()
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "tenant_mismatch"
    assert reads == []
    after = await snapshot(database, victim.tenant), await snapshot(database, home.tenant)
    assert after == before
