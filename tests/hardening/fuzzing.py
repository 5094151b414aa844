"""What both fuzz suites share: the checks, a signed-in caller, the cases and the run.

Why not `schemathesis.pytest.from_fixture(...).parametrize()`: on pytest 9.2 it writes
`Function._nodeid`, which no longer exists. The strategies (`APIOperation.as_strategy`) and
`Case.call_and_validate` are the same machinery without that glue.
"""

import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import hypothesis
import requests
import schemathesis
from fastapi import APIRouter, FastAPI
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
from tenantry.core.settings import Settings
from tests.fixtures.identity import Account

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
# Per operation, derandomized so that CI sees the same cases every run. A deeper campaign:
# FUZZ_EXAMPLES=1000 make test, and FUZZ_SEED=<any integer> for other cases than the fixed
# seed's (a failure prints the case; the same seed repeats it).
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "50"))
SEED = os.environ.get("FUZZ_SEED")


@contextmanager
def served(settings: Settings) -> Iterator[FastAPI]:
    """The app under test; schemathesis runs its lifespan in its own thread and ends it here."""
    app = create_app(settings)
    try:
        yield app
    finally:
        asgi.shutdown_lifespans()


def load_schema(app: FastAPI) -> schemathesis.BaseSchema:
    # An explicit Config: no schemathesis.toml is looked up, nothing is written to disk.
    return schemathesis.openapi.from_asgi("/openapi.json", app, config=schemathesis.Config())


def operation_labels(routers: Iterable[APIRouter]) -> list[str]:
    """Labels ("METHOD /path") of the documented routes of `routers`, as schemathesis has them."""
    return sorted(
        f"{method} {route.path}"
        for router in routers
        for route in router.routes
        if isinstance(route, APIRoute) and route.include_in_schema
        for method in route.methods or ()
    )


def documented_labels(schema: schemathesis.BaseSchema) -> set[str]:
    """The labels of every operation in the document."""
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    return {operation.label for operation in operations}


class SignedIn:
    """An account signed in over the fuzzed app itself (its tenant in `X-Tenant`)."""

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


def cases_for(operation: Any, known: Mapping[str, str] | None) -> Any:
    """Positive and negative cases; with `known` path values (real ids), half of them use those,
    so that they reach past the 404 of a random UUID."""
    modes = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)
    strategies = [operation.as_strategy(mode) for mode in modes]
    if known is not None:
        values = dict(known)
        strategies += [operation.as_strategy(mode, path_parameters=values) for mode in modes]
    return st.one_of(strategies)


def fuzz(
    schema: schemathesis.BaseSchema,
    label: str,
    caller: SignedIn,
    known: Mapping[str, str] | None,
    after: Callable[[requests.Response], None] = lambda response: None,
) -> None:
    """`EXAMPLES` cases of one operation as `caller`, each checked against the document."""
    operation = schema.find_operation_by_label(label)
    assert operation is not None, f"{label} is missing from /openapi.json"

    @hypothesis.settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=SEED is None,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=cases_for(operation, known))
    def conforms(case: Any) -> None:
        after(case.call_and_validate(headers=caller.headers, checks=CHECKS))

    if SEED is not None:
        conforms = hypothesis.seed(int(SEED))(conforms)
    conforms()
