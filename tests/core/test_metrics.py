"""Metrics: bounded labels, the /metrics endpoint, scrape-time gauges, multiprocess mode."""

import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select
from sqlalchemy.exc import OperationalError
from starlette.types import Message, Receive, Scope, Send

from tenantry import __version__
from tenantry.core.database import Database
from tenantry.core.migrations import Tree, head_revision
from tenantry.core.observability import metrics
from tenantry.core.observability.metrics import (
    HTTP_IN_FLIGHT,
    TenantStatusSampler,
    configure_metrics,
    tenant_label,
)
from tenantry.core.observability.request_context import RequestContextMiddleware
from tenantry.core.settings import Settings
from tenantry.platform.migrations.service import BehindTenant, upgrade_tenant
from tenantry.platform.tenants.models import TenantRecord
from tests.fixtures.app import TenantFactory, client_for, running_app, runtime_of
from tests.fixtures.database import settings_for
from tests.fixtures.probe import install_probe


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def requests_total(method: str, route: str, status: str) -> float:
    return sample("tenantry_http_requests_total", method=method, route=route, status=status)


@pytest.fixture
async def probe(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(install_probe(app)) as http:
        yield http


async def test_requests_are_labelled_by_route_template(
    probe: httpx.AsyncClient, make_tenant: TenantFactory
) -> None:
    tenant = await make_tenant()
    template = "/api/v1/_probe/users/{user_id}"
    before = requests_total("GET", template, "404")
    latency_before = sample(
        "tenantry_http_request_duration_seconds_count", method="GET", route=template
    )
    user_id = uuid.uuid4()

    response = await probe.get(f"/api/v1/_probe/users/{user_id}", headers={"X-Tenant": tenant.slug})

    assert response.status_code == 404
    assert requests_total("GET", template, "404") == before + 1
    assert (
        sample("tenantry_http_request_duration_seconds_count", method="GET", route=template)
        == latency_before + 1
    )
    exposition = (await probe.get("/metrics")).text
    assert str(user_id) not in exposition


async def test_unmatched_paths_and_odd_methods_share_one_label_value(
    client: httpx.AsyncClient,
) -> None:
    unmatched = requests_total("GET", "unmatched", "404")
    odd = requests_total("OTHER", "/healthz", "405")

    await client.get(f"/no/such/{uuid.uuid4()}")
    await client.get(f"/no/such/{uuid.uuid4()}")
    await client.request("PROPFIND", "/healthz")

    assert requests_total("GET", "unmatched", "404") == unmatched + 2
    assert requests_total("OTHER", "/healthz", "405") == odd + 1


async def test_in_flight_counts_the_request_while_it_runs_even_when_it_fails() -> None:
    seen: list[float] = []

    async def failing_app(scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(sample("tenantry_http_requests_in_flight"))
        raise RuntimeError("boom")

    async def receive() -> Message:
        return {"type": "http.request", "body": b""}

    async def send(_: Message) -> None:
        return None

    scope: Scope = {"type": "http", "method": "GET", "path": "/x", "headers": [], "state": {}}
    idle = sample("tenantry_http_requests_in_flight")
    with pytest.raises(RuntimeError):
        await RequestContextMiddleware(failing_app)(scope, receive, send)

    assert seen == [idle + 1]
    assert sample("tenantry_http_requests_in_flight") == idle
    assert HTTP_IN_FLIGHT is metrics.HTTP_IN_FLIGHT


async def test_metrics_endpoint_serves_every_series_in_text_format(
    client: httpx.AsyncClient,
) -> None:
    await client.get("/healthz")
    response = await client.get("/metrics")

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    families = {family.name for family in text_string_to_metric_families(response.text)}
    expected = {
        "tenantry_http_requests", "tenantry_http_request_duration_seconds",
        "tenantry_http_requests_in_flight", "tenantry_logins", "tenantry_lockouts",
        "tenantry_tokens_issued", "tenantry_refresh_token_reuse", "tenantry_rate_limited",
        "tenantry_authz_denials", "tenantry_tenant_lifecycle", "tenantry_tenants",
        "tenantry_tenant_provisioning_seconds", "tenantry_tenant_migration_seconds",
        "tenantry_db_pool_size", "tenantry_db_pool_checked_out", "tenantry_build_info",
    }  # fmt: skip
    assert expected <= families
    python = "{}.{}.{}".format(*sys.version_info[:3])
    assert sample("tenantry_build_info", version=__version__, python_version=python) == 1


async def test_metrics_token_is_required_when_set(database_url: str) -> None:
    settings = settings_for(database_url, metrics_token="scrape-me-please")
    async with running_app(settings) as app, client_for(app) as http:
        assert (await http.get("/metrics")).status_code == 401
        wrong = await http.get("/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        assert wrong.headers["www-authenticate"] == "Bearer"
        assert wrong.json()["error"] == "unauthorized"
        basic = await http.get("/metrics", headers={"Authorization": "Basic scrape-me-please"})
        assert basic.status_code == 401
        for scheme in ("Bearer", "bearer"):
            good = await http.get(
                "/metrics", headers={"Authorization": f"{scheme} scrape-me-please"}
            )
            assert good.status_code == 200
            assert "tenantry_build_info" in good.text
        # Probes stay open: the token guards /metrics only.
        assert (await http.get("/healthz")).status_code == 200


async def test_tenants_gauge_reads_the_registry_when_scraped(
    database_url: str, make_tenant: TenantFactory, database: Database
) -> None:
    await make_tenant()
    async with database.platform_session() as session:
        active = await session.scalar(
            select(func.count()).select_from(TenantRecord).where(TenantRecord.status == "active")
        )
    async with running_app(settings_for(database_url)) as app, client_for(app) as http:
        assert (await http.get("/metrics")).status_code == 200
    assert active is not None
    assert active >= 1
    assert sample("tenantry_tenants", status="active") == active
    # Statuses without tenants read 0 rather than going missing.
    assert tenants("deleting") is not None


class CountingSource:
    def __init__(self, *results: Mapping[str, int] | Exception) -> None:
        self.results = list(results)
        self.calls = 0

    async def __call__(self) -> Mapping[str, int]:
        self.calls += 1
        result = self.results.pop(0)
        if isinstance(result, Exception):
            raise result
        return result


def tenants(status: str) -> float | None:
    return REGISTRY.get_sample_value("tenantry_tenants", {"status": status})


async def test_sampler_queries_once_per_ttl_and_zeroes_empty_statuses() -> None:
    source = CountingSource({"active": 3, "suspended": 1}, {"active": 4})
    sampler = TenantStatusSampler(source, ttl=60)

    await sampler.refresh()
    await sampler.refresh()

    assert source.calls == 1
    assert (tenants("active"), tenants("suspended"), tenants("deleting")) == (3, 1, 0)

    sampler = TenantStatusSampler(source, ttl=0)
    await sampler.refresh()
    assert (tenants("active"), tenants("suspended")) == (4, 0)


async def test_sampler_keeps_last_values_through_a_database_outage() -> None:
    outage = OperationalError("SELECT 1", {}, ConnectionRefusedError("refused"))
    source = CountingSource({"active": 7}, outage)
    sampler = TenantStatusSampler(source, ttl=0)
    await sampler.refresh()
    await sampler.refresh()
    assert source.calls == 2
    assert tenants("active") == 7


async def test_sampler_does_not_hide_bugs() -> None:
    sampler = TenantStatusSampler(CountingSource(ValueError("a bug")), ttl=0)
    with pytest.raises(ValueError, match="a bug"):
        await sampler.refresh()


async def test_pool_gauges_follow_the_engine(database_url: str) -> None:
    settings = settings_for(database_url, database_pool_size=3)
    async with running_app(settings) as app:
        engine = runtime_of(app).database.engine
        assert sample("tenantry_db_pool_size") == 3
        idle = sample("tenantry_db_pool_checked_out")
        async with engine.connect(), engine.connect():
            assert sample("tenantry_db_pool_checked_out") == idle + 2
        assert sample("tenantry_db_pool_checked_out") == idle


async def test_provisioning_and_migration_durations_are_recorded(
    make_tenant: TenantFactory, database: Database
) -> None:
    provisioned = sample("tenantry_tenant_lifecycle_total", action="provisioned")
    provisionings = sample("tenantry_tenant_provisioning_seconds_count")
    migrations = sample("tenantry_tenant_migration_seconds_count")

    tenant = await make_tenant()
    target = head_revision(Tree.TENANT)
    await upgrade_tenant(
        database.engine, BehindTenant(tenant.id, tenant.slug, tenant.schema, target), target
    )

    assert sample("tenantry_tenant_lifecycle_total", action="provisioned") == provisioned + 1
    assert sample("tenantry_tenant_provisioning_seconds_count") == provisionings + 1
    assert sample("tenantry_tenant_provisioning_seconds_sum") > 0
    assert sample("tenantry_tenant_migration_seconds_count") == migrations + 1


def test_tenant_label_is_empty_unless_switched_on(settings: Settings) -> None:
    try:
        configure_metrics(settings.model_copy(update={"metrics_tenant_labels": True}))
        assert tenant_label("acme") == "acme"
        configure_metrics(settings.model_copy(update={"metrics_tenant_labels": False}))
        assert tenant_label("acme") == ""
    finally:
        configure_metrics(settings)


_WORKER = textwrap.dedent(
    """
    import sys
    from tenantry.core.observability import metrics as m

    m.HTTP_REQUESTS.labels(method="GET", route="/healthz", status="200").inc(int(sys.argv[1]))
    m.HTTP_IN_FLIGHT.inc()
    m.DB_POOL_SIZE.set(4)
    if sys.argv[2] == "stop":
        m.worker_stopped()
    else:
        sys.stdout.write(m.render_metrics().decode())
    """
)


def run_worker(directory: Path, increments: int, action: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(  # noqa: S603 - our own interpreter on a fixed script
        [sys.executable, "-c", _WORKER, str(increments), action],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    return done.stdout


def test_multiprocess_mode_merges_workers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "counter_999999.db").write_bytes(b"stale file of a previous run")
    with monkeypatch.context() as patch:
        patch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
        metrics.prepare_multiprocess_dir()
    assert list(tmp_path.iterdir()) == []

    run_worker(tmp_path, 2, "stop")  # a worker that served and shut down cleanly
    exposition = run_worker(tmp_path, 3, "render")

    values = {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(exposition)
        for sample in family.samples
    }
    requests = ("tenantry_http_requests_total",
                (("method", "GET"), ("route", "/healthz"), ("status", "200")))  # fmt: skip
    assert values[requests] == 5  # counters add up over every worker, dead ones included
    assert values[("tenantry_http_requests_in_flight", ())] == 1  # live workers only
    assert values[("tenantry_db_pool_size", ())] == 4
    build = [v for (name, _), v in values.items() if name == "tenantry_build_info"]
    assert build == [1]
