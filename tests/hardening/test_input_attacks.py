"""Hostile input before any credential matters: tenant names that are SQL or not ASCII, foreign
hosts, oversized bodies and headers, repeated headers. Every tenant route, public ones included.

Each refusal must come before the request reaches anything: the tenant directory is not asked,
no pooled connection is taken, and the tenant's rows are unchanged.
"""

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from tenantry.core.database import Database
from tenantry.core.request_limits import MAX_HEADER_BYTES, RequestLimitsMiddleware
from tenantry.core.runtime import Runtime
from tenantry.core.settings import Settings
from tests.fixtures.app import TenantFactory, client_for, running_app
from tests.hardening.attacks import (
    Org,
    Route,
    host_for,
    pool_checkouts,
    snapshot,
    tenant_routes,
)

ROUTES = tenant_routes()

HOSTILE_SLUGS: list[str | bytes] = [
    "x'; DROP SCHEMA platform CASCADE; --",
    "a' OR '1'='1",
    "t-1 UNION SELECT schema_name FROM platform.tenants",
    "%27%3B--",
    "../platform",
    "ünïcode-tenant".encode(),
    "платформа".encode(),
    "t\u0000x".encode(),
    "a" * 500,
]
FOREIGN_HOSTS: list[str | bytes] = [
    "x'; DROP SCHEMA platform CASCADE; --",
    "evil\u0000.example.org".encode(),
    "ünïcode.example.org".encode(),
    "a" * 300 + ".example.org",
]
TWO_MIB = 2 * 1024 * 1024


class Lookups:
    """Counts calls to the tenant directory, which is where resolution starts to read."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []


@pytest.fixture
def lookups(runtime: Runtime, monkeypatch: pytest.MonkeyPatch) -> Lookups:
    seen = Lookups()
    directory = runtime.directory
    for name in ("by_slug", "by_domain"):
        original = getattr(directory, name)

        async def counted(key: str, _original: Any = original, _name: str = name) -> Any:
            seen.calls.append((_name, key))
            return await _original(key)

        monkeypatch.setattr(directory, name, counted)
    return seen


async def send(
    http: httpx.AsyncClient, route: Route, org: Org, headers: Any, **overrides: Any
) -> httpx.Response:
    example = route.example(org)
    kwargs = {**example.send_kwargs(), **overrides}
    return await http.request(route.method, example.path, headers=headers, **kwargs)


def unexpected(response: httpx.Response, status: int, error: str) -> tuple[int, str] | None:
    if response.status_code == status and response.json().get("error") == error:
        return None
    return response.status_code, response.text[:200]


@pytest.mark.parametrize("carrier", ["X-Tenant", "Host"])
@pytest.mark.parametrize("slug", HOSTILE_SLUGS, ids=range(len(HOSTILE_SLUGS)))
async def test_hostile_tenant_names_get_404_without_a_lookup(
    carrier: str,
    slug: str | bytes,
    http: httpx.AsyncClient,
    org: Org,
    lookups: Lookups,
    database: Database,
) -> None:
    name = slug if isinstance(slug, bytes) else slug.encode()
    value = name if carrier == "X-Tenant" else name + b".localhost"
    headers = {carrier: value, "Authorization": f"Bearer {org.owner.access_token}"}
    answers = {}
    with pool_checkouts(database) as reads:
        for route in ROUTES:
            found = unexpected(await send(http, route, org, headers), 404, "tenant_not_found")
            if found:
                answers[route.label] = found
    assert answers == {}
    assert lookups.calls == [], "a name that cannot be a slug reached the tenant directory"
    assert reads == []


@pytest.mark.parametrize("host", FOREIGN_HOSTS, ids=range(len(FOREIGN_HOSTS)))
async def test_foreign_hosts_that_cannot_be_domains_resolve_no_tenant(
    host: str | bytes, http: httpx.AsyncClient, org: Org, lookups: Lookups
) -> None:
    headers = {"Host": host, "Authorization": f"Bearer {org.owner.access_token}"}
    answers = {}
    for route in ROUTES:
        response = await send(http, route, org, headers)
        if route.needs_tenant:
            found = unexpected(response, 400, "tenant_required")
        else:  # the JWK Set is the same for everyone
            found = None if response.status_code == 200 else (response.status_code, response.text)
        if found:
            answers[route.label] = found
    assert answers == {}
    assert lookups.calls == [], "a host that cannot be a domain reached the tenant directory"


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
async def test_oversized_bodies_get_413_before_anything_reads_them(
    framing: str, http: httpx.AsyncClient, org: Org, lookups: Lookups, database: Database
) -> None:
    body = json.dumps({"display_name": "x" * TWO_MIB}).encode()

    async def chunks() -> AsyncIterator[bytes]:
        for start in range(0, len(body), 64 * 1024):
            yield body[start : start + 64 * 1024]

    before = await snapshot(database, org.tenant)
    answers = {}
    with pool_checkouts(database) as reads:
        for route in ROUTES:
            content = chunks() if framing == "chunked" else body
            headers = {**org.owner.headers, "Content-Type": "application/json"}
            response = await send(http, route, org, headers, content=content, json=None, data=None)
            found = unexpected(response, 413, "payload_too_large")
            if found:
                answers[route.label] = found
    assert answers == {}
    assert lookups.calls == []
    assert reads == []
    assert await snapshot(database, org.tenant) == before


@pytest.mark.parametrize(
    "extra",
    [
        [("X-Padding", "p" * (MAX_HEADER_BYTES + 1))],
        [(f"X-Padding-{index}", "p" * 100) for index in range(200)],
    ],
    ids=["one-huge-header", "many-headers"],
)
async def test_oversized_headers_get_431(
    extra: list[tuple[str, str]],
    http: httpx.AsyncClient,
    org: Org,
    lookups: Lookups,
    database: Database,
) -> None:
    answers = {}
    with pool_checkouts(database) as reads:
        for route in ROUTES:
            response = await send(http, route, org, [*org.owner.headers.items(), *extra])
            found = unexpected(response, 431, "headers_too_large")
            if found:
                answers[route.label] = found
    assert answers == {}
    assert lookups.calls == []
    assert reads == []


@pytest.mark.parametrize(
    "name", ["X-Tenant", "Authorization", "Host", "Content-Length", "Content-Type"]
)
async def test_repeated_singleton_headers_get_400(
    name: str,
    http: httpx.AsyncClient,
    org: Org,
    make_tenant: TenantFactory,
    lookups: Lookups,
    database: Database,
) -> None:
    other = await make_tenant()
    second = {
        "X-Tenant": other.slug,
        "Authorization": "Bearer x.y.z",
        "Host": host_for(other),
        "Content-Length": "0",
        "Content-Type": "text/plain",
    }[name]
    answers = {}
    with pool_checkouts(database) as reads:
        for route in ROUTES:
            first = {
                **org.owner.headers,
                "Host": host_for(org.tenant),
                "Content-Length": "2",
                "Content-Type": "application/json",
            }
            headers = [*first.items(), (name, second)]
            response = await send(http, route, org, headers, content=b"{}", json=None, data=None)
            found = unexpected(response, 400, "malformed_request")
            if found:
                answers[route.label] = found
    assert answers == {}
    assert lookups.calls == []
    assert reads == []


async def test_limits_leave_ordinary_requests_alone(
    http: httpx.AsyncClient, org: Org, settings: Settings
) -> None:
    # Just under the body limit: the request reaches validation (bio is capped at 2000 chars).
    near = {"bio": "b" * (settings.max_body_bytes - 100)}
    patched = await http.patch("/api/v1/users/me", json=near, headers=org.owner.headers)
    assert patched.status_code == 422
    assert patched.json()["error"] == "validation_error"
    # Headers well within the limit, and list-valued ones repeated, are fine.
    headers = [*org.owner.headers.items(), ("X-Padding", "p" * 8000), ("Accept", "a/b")]
    assert (await http.get("/api/v1/users/me", headers=headers)).status_code == 200


async def test_body_limit_follows_the_setting(settings: Settings, org: Org) -> None:
    small = settings.model_copy(update={"max_body_bytes": 64})
    async with running_app(small) as app, client_for(app) as http:
        body = {"display_name": "x" * 100}
        refused = await http.patch("/api/v1/users/me", json=body, headers=org.owner.headers)
        assert refused.status_code == 413
        fits = await http.patch("/api/v1/users/me", json={"bio": "ok"}, headers=org.owner.headers)
        assert fits.status_code == 200


@pytest.mark.parametrize(
    ("length", "status"), [(b"abc", 400), (b"-1", 400), (b"1e9", 400), (b"9" * 5000, 413)]
)
async def test_content_length_that_is_no_length_is_refused_before_the_app(
    length: bytes, status: int
) -> None:
    reached: list[object] = []

    async def inner(scope: Any, receive: Any, send: Any) -> None:
        reached.append(scope)

    sent: list[dict[str, Any]] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    scope = {
        "type": "http",
        "method": "POST",
        "path": "/",
        "headers": [(b"content-length", length)],
    }
    await RequestLimitsMiddleware(inner, max_body_bytes=1024)(scope, receive, send)
    assert reached == []
    assert sent[0]["status"] == status
