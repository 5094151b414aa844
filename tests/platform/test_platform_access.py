"""Every /platform/v1 route: operators only, on the platform tenant only."""

import re
import uuid
from collections.abc import Iterator

import httpx
import pytest
from fastapi.routing import APIRoute

from tenantry.core.tenancy.context import Tenant
from tenantry.platform.dependencies import PLATFORM_TENANT_ONLY
from tenantry.platform.router import platform_routers
from tests.fixtures.identity import Login, RoleUserFactory, UserFactory, login
from tests.platform.routes import declared_permissions

BODIES: dict[str, object] = {"POST": {}, "PATCH": {}}


def platform_routes() -> Iterator[tuple[str, str]]:
    for router in platform_routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods or ()):
                yield method, re.sub(r"\{[^}]+\}", str(uuid.uuid4()), route.path)


ROUTES = sorted(platform_routes())


def test_every_route_is_guarded_and_declares_a_platform_permission() -> None:
    for router in platform_routers():
        guards = [getattr(d.dependency, PLATFORM_TENANT_ONLY, False) for d in router.dependencies]
        assert any(guards), router.prefix
        for route in router.routes:
            assert isinstance(route, APIRoute)
            assert route.path.startswith("/platform/v1/")
            permissions = list(declared_permissions(route.dependant))
            assert permissions, route.path
            assert all(p.startswith("platform:") for p in permissions), route.path


async def call(client: httpx.AsyncClient, method: str, path: str, login: Login) -> httpx.Response:
    return await client.request(method, path, json=BODIES.get(method), headers=login.headers)


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_tenant_admin_on_their_own_tenant_finds_nothing(
    client: httpx.AsyncClient, tenant: Tenant, make_admin: RoleUserFactory, method: str, path: str
) -> None:
    owner = await login(client, await make_admin(tenant, "owner"))
    response = await call(client, method, path, owner)
    assert (response.status_code, response.json()["error"]) == (404, "not_found")


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_member_of_the_platform_tenant_is_forbidden(
    client: httpx.AsyncClient,
    platform_tenant: Tenant,
    make_user: UserFactory,
    method: str,
    path: str,
) -> None:
    member = await login(client, await make_user(platform_tenant))
    response = await call(client, method, path, member)
    assert (response.status_code, response.json()["error"]) == (403, "permission_denied")


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_a_tenant_token_presented_to_the_platform_tenant_is_refused(
    client: httpx.AsyncClient, tenant: Tenant, make_admin: RoleUserFactory, method: str, path: str
) -> None:
    owner = await login(client, await make_admin(tenant, "owner"))
    headers = {**owner.headers, "X-Tenant": "platform"}
    response = await client.request(method, path, json=BODIES.get(method), headers=headers)
    assert response.status_code == 401


@pytest.mark.parametrize(("method", "path"), ROUTES)
async def test_without_a_token_nothing_is_answered(
    client: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await client.request(method, path, headers={"X-Tenant": "platform"})
    assert response.status_code == 401
    assert (await client.request(method, path)).status_code == 400  # no tenant at all
