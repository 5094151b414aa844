"""Schemathesis against the app's own OpenAPI document, signed in as a tenant owner.

Each operation of the tenant plane (and the probes) is one test: `EXAMPLES` positive and negative
cases, derandomized so that CI sees the same cases every run. Checks: no 5xx, every status code
documented, and every response in its documented content type and schema.

Why not `schemathesis.pytest.from_fixture(...).parametrize()`: on pytest 9.2 it writes
`Function._nodeid`, which no longer exists. The strategies (`APIOperation.as_strategy`) and
`Case.call_and_validate` are the same machinery without that glue.

The app runs in schemathesis' own ASGI event-loop thread (its lifespan too), apart from the
suite's loop; fixtures that write to the database use the suite's engine, which is fine because
the two share nothing but PostgreSQL. The schemathesis pytest plugin ends ASGI lifespans after
every test, so the app also gets restarted 40-odd times: a test of its own.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import hypothesis
import pytest
import requests
import schemathesis
from fastapi import FastAPI
from fastapi.routing import APIRoute
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tenantry.app import create_app
from tenantry.core.health import router as health_router
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.router import tenant_routers
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import Account, RoleUserFactory

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
EXAMPLES = 50
# The control plane's operator API wants an operator of the `platform` tenant, not a tenant owner.
NOT_FUZZED_HERE = "/platform/"
# The only operations that can end the caller's own session (random UUIDs never name the
# caller, and the current password is never guessed): sign in again after they succeed.
ENDS_OWN_SESSION = {"POST /api/v1/auth/logout", "POST /api/v1/auth/logout-all"}


def operation_labels() -> list[str]:
    routers = [health_router, *tenant_routers()]
    return sorted(
        f"{method} {route.path}"
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    )


class Owner:
    """The tenant owner the fuzzer acts as, signed in over the fuzzed app itself."""

    def __init__(self, app: FastAPI, account: Account) -> None:
        self.app = app
        self.account = account
        self.token = self.login()

    def login(self) -> str:
        response = self.request(
            "POST",
            "/api/v1/oauth/token",
            data={
                "grant_type": "password",
                "username": self.account.email,
                "password": self.account.password,
            },
        )
        assert response.status_code == 200, response.text
        token: str = response.json()["access_token"]
        return token

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        headers = {"X-Tenant": self.account.tenant.slug, **kwargs.pop("headers", {})}
        with asgi.get_client(self.app) as http:  # type: ignore[arg-type]
            return http.request(method, path, headers=headers, **kwargs)

    def create(self, path: str, body: dict[str, object]) -> str:
        response = self.request("POST", path, json=body, headers=self.headers)
        assert response.status_code == 201, response.text
        created: str = response.json()["id"]
        return created

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Tenant": self.account.tenant.slug, "Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Targets:
    """Real ids for path parameters, so that cases reach past the 404 of a random UUID."""

    user_id: str
    role_id: str
    invitation_id: str
    session_id: str

    @classmethod
    def seed(cls, owner: Owner) -> "Targets":
        tag = uuid.uuid4().hex[:8]
        user_id = owner.create(
            "/api/v1/users", {"email": f"target-{tag}@example.com", "password": "x" * 16}
        )
        role_id = owner.create(
            "/api/v1/roles", {"name": f"fuzzed {tag}", "permissions": ["users:read"]}
        )
        invitation_id = owner.create("/api/v1/invitations", {"email": f"invitee-{tag}@example.com"})
        # A second session of the owner: ending it leaves the fuzzer's own session alone.
        second = Owner(owner.app, owner.account)
        sessions = owner.request("GET", "/api/v1/users/me/sessions", headers=second.headers).json()
        session_id = next(item["id"] for item in sessions if item["current"])
        return cls(user_id, role_id, invitation_id, session_id)

    def for_path(self, path: str) -> dict[str, str]:
        names = {
            "user_id": self.user_id,
            "role_id": self.role_id,
            "invitation_id": self.invitation_id,
            "session_id": self.session_id,
        }
        return {name: value for name, value in names.items() if f"{{{name}}}" in path}


@pytest.fixture(scope="module")
async def fuzz_tenant(make_tenant: TenantFactory) -> Tenant:
    return await make_tenant()


@pytest.fixture(scope="module")
async def fuzz_account(fuzz_tenant: Tenant, make_admin: RoleUserFactory) -> Account:
    return await make_admin(fuzz_tenant, "owner")


@pytest.fixture(scope="module")
def fuzz_app(settings: Settings) -> Iterator[FastAPI]:
    app = create_app(settings)
    yield app
    asgi.shutdown_lifespans()


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app: FastAPI) -> schemathesis.BaseSchema:
    # An explicit Config: no schemathesis.toml is looked up, nothing is written to disk.
    return schemathesis.openapi.from_asgi("/openapi.json", fuzz_app, config=schemathesis.Config())


@pytest.fixture(scope="module")
def owner(fuzz_app: FastAPI, fuzz_schema: schemathesis.BaseSchema, fuzz_account: Account) -> Owner:
    return Owner(fuzz_app, fuzz_account)


def cases_for(operation: Any, targets: Targets | None) -> Any:
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    strategies = [operation.as_strategy(mode) for mode in modes]
    if targets is not None:
        known = targets.for_path(operation.path)
        strategies += [operation.as_strategy(mode, path_parameters=known) for mode in modes]
    return st.one_of(strategies)


@pytest.mark.parametrize("label", operation_labels())
def test_operation_conforms(label: str, fuzz_schema: schemathesis.BaseSchema, owner: Owner) -> None:
    operation = fuzz_schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is missing from /openapi.json"
    targets = Targets.seed(owner) if "{" in operation.path else None

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=cases_for(operation, targets))
    def conforms(case: Any) -> None:
        response = case.call_and_validate(headers=owner.headers, checks=CHECKS)
        if label in ENDS_OWN_SESSION and response.status_code == 204:
            owner.token = owner.login()

    conforms()


def test_every_operation_is_fuzzed(fuzz_schema: schemathesis.BaseSchema) -> None:
    operations = [result.ok() for result in fuzz_schema.get_all_operations()]  # type: ignore[union-attr]
    documented = {
        operation.label
        for operation in operations
        if not operation.path.startswith(NOT_FUZZED_HERE)
    }
    assert documented == set(operation_labels())
