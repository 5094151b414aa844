"""Helpers shared by the access tests: which permissions a route declares."""

from collections.abc import Iterator

from fastapi.dependencies.models import Dependant

from tenantry.tenants.roles.dependencies import PERMISSION_ATTRIBUTE


def declared_permissions(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        permission = getattr(dependency.call, PERMISSION_ATTRIBUTE, None)
        if permission is not None:
            yield permission
        yield from declared_permissions(dependency)
