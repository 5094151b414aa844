"""Schemathesis against the app's own OpenAPI document, signed in as a tenant owner.

Each operation of the tenant plane (and the probes) is one test: `EXAMPLES` positive and negative
cases (tests/hardening/fuzzing.py). Checks: no 5xx, every status code documented, and every
response in its documented content type and schema. The control plane has its own suite,
test_fuzz_platform.py, signed in as an operator on a database of its own.

The app runs in schemathesis' own ASGI event-loop thread (its lifespan too), apart from the
suite's loop; fixtures that write to the database use the suite's engine, which is fine because
the two share nothing but PostgreSQL. The schemathesis pytest plugin ends ASGI lifespans after
every test, so the app also gets restarted 40-odd times: a test of its own.
"""

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import requests
import schemathesis
from fastapi import FastAPI

from tenantry.core.health import router as health_router
from tenantry.core.settings import Settings
from tenantry.core.tenancy.context import Tenant
from tenantry.tenants.router import tenant_routers
from tests.fixtures.app import TenantFactory
from tests.fixtures.identity import Account, RoleUserFactory
from tests.hardening.fuzzing import (
    SignedIn,
    documented_labels,
    fuzz,
    load_schema,
    operation_labels,
    served,
)

# The control plane's operator API wants an operator of the `platform` tenant, not a tenant owner:
# test_fuzz_platform.py.
NOT_FUZZED_HERE = "/platform/"
# The only operations that can end the caller's own session (random UUIDs never name the
# caller, and the current password is never guessed): sign in again after they succeed.
ENDS_OWN_SESSION = {"POST /api/v1/auth/logout", "POST /api/v1/auth/logout-all"}
LABELS = operation_labels([health_router, *tenant_routers()])


@dataclass(frozen=True)
class Targets:
    """Real ids for path parameters, so that cases reach past the 404 of a random UUID."""

    user_id: str
    role_id: str
    invitation_id: str
    session_id: str

    @classmethod
    def seed(cls, owner: SignedIn) -> "Targets":
        tag = uuid.uuid4().hex[:8]
        user_id = owner.create(
            "/api/v1/users", {"email": f"target-{tag}@example.com", "password": "x" * 16}
        )
        role_id = owner.create(
            "/api/v1/roles", {"name": f"fuzzed {tag}", "permissions": ["users:read"]}
        )
        invitation_id = owner.create("/api/v1/invitations", {"email": f"invitee-{tag}@example.com"})
        # A second session of the owner: ending it leaves the fuzzer's own session alone.
        second = SignedIn(owner.app, owner.account)
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
    with served(settings) as app:
        yield app


@pytest.fixture(scope="module")
def fuzz_schema(fuzz_app: FastAPI) -> schemathesis.BaseSchema:
    return load_schema(fuzz_app)


@pytest.fixture(scope="module")
def owner(
    fuzz_app: FastAPI, fuzz_schema: schemathesis.BaseSchema, fuzz_account: Account
) -> SignedIn:
    return SignedIn(fuzz_app, fuzz_account)


@pytest.mark.parametrize("label", LABELS)
def test_operation_conforms(
    label: str, fuzz_schema: schemathesis.BaseSchema, owner: SignedIn
) -> None:
    targets = Targets.seed(owner) if "{" in label else None

    def sign_in_again(response: requests.Response) -> None:
        if label in ENDS_OWN_SESSION and response.status_code == 204:
            owner.token = owner.login()

    known = targets.for_path(label.partition(" ")[2]) if targets else None
    fuzz(fuzz_schema, label, owner, known, after=sign_in_again)


def test_every_operation_is_fuzzed(fuzz_schema: schemathesis.BaseSchema) -> None:
    documented = documented_labels(fuzz_schema)
    assert {label for label in documented if NOT_FUZZED_HERE not in label} == set(LABELS)
