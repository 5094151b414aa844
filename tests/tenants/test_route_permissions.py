"""Every tenant route declares the permission it needs, except an explicit public list."""

from collections.abc import Iterator

from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from tenantry.tenants.roles.dependencies import PERMISSION_ATTRIBUTE
from tenantry.tenants.router import tenant_routers

PUBLIC = {
    ("POST", "/api/v1/oauth/token"),
    ("POST", "/api/v1/oauth/revoke"),
    ("POST", "/api/v1/auth/register"),
    ("POST", "/api/v1/auth/verify-email"),
    ("POST", "/api/v1/auth/password-reset"),
    ("POST", "/api/v1/auth/password-reset/confirm"),
    ("POST", "/api/v1/invitations/accept"),
    ("GET", "/.well-known/jwks.json"),
    ("GET", "/.well-known/openid-configuration"),
    ("GET", "/.well-known/oauth-authorization-server"),
}


def declared_permissions(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        permission = getattr(dependency.call, PERMISSION_ATTRIBUTE, None)
        if permission is not None:
            yield permission
        yield from declared_permissions(dependency)


def tenant_routes() -> Iterator[tuple[str, str, APIRoute]]:
    for router in tenant_routers():
        for route in router.routes:
            assert isinstance(route, APIRoute)
            for method in sorted(route.methods):
                yield method, route.path, route


def test_every_route_declares_a_permission_or_is_public() -> None:
    undeclared = [
        (method, path)
        for method, path, route in tenant_routes()
        if (method, path) not in PUBLIC and not list(declared_permissions(route.dependant))
    ]
    assert undeclared == []


def test_public_routes_declare_none() -> None:
    routes = {(method, path): route for method, path, route in tenant_routes()}
    for key in PUBLIC & routes.keys():
        assert list(declared_permissions(routes[key].dependant)) == [], key


def test_checker_sees_a_route_that_only_authenticates() -> None:
    from fastapi import APIRouter

    from tenantry.tenants.auth.dependencies import CurrentUser
    from tenantry.tenants.roles.dependencies import Authorize

    router = APIRouter()

    @router.get("/only-authenticated")
    async def only_authenticated(user: CurrentUser) -> None:
        del user

    @router.get("/authorized", dependencies=[Authorize("users:read")])
    async def authorized() -> None:
        return None

    bare, guarded = router.routes
    assert isinstance(bare, APIRoute)
    assert isinstance(guarded, APIRoute)
    assert list(declared_permissions(bare.dependant)) == []
    assert list(declared_permissions(guarded.dependant)) == ["users:read"]
