"""A real Prometheus server scrapes `tenantry serve` over loopback, and its API sees the series.

The service runs as in production: `tenantry serve` with two workers and PROMETHEUS_MULTIPROC_DIR,
so the test also proves that a scrape answered by one worker reports what both did. Everything
runs in temporary directories on free loopback ports and is stopped at the end, whatever happens;
every wait is bounded, so a broken run fails within about a minute.
"""

import asyncio
import json
import os
import shutil
import signal
import socket
import sys
import textwrap
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from tenantry import __version__
from tests.delivery.conftest import CHART
from tests.fixtures.app import TenantFactory

PROMETHEUS = shutil.which("prometheus")
pytestmark = pytest.mark.skipif(
    PROMETHEUS is None,
    reason="no `prometheus` binary on PATH: `make prometheus` installs the Debian package "
    "(as root), or run `sudo apt-get install prometheus`",
)

WORKERS = 2
POOL_SIZE = 3
HEALTHZ_CALLS = 5
T = TypeVar("T")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@asynccontextmanager
async def running(
    command: list[str], log: Path, env: dict[str, str] | None = None
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start a process in its own process group; on exit, stop the group and wait for it."""
    with log.open("wb") as output:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=output, stderr=output, env=env, start_new_session=True
        )
    try:
        yield process
    finally:
        if process.returncode is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                os.killpg(process.pid, signal.SIGKILL)
                await process.wait()


async def eventually(check: Callable[[], Awaitable[T | None]], what: str, within: float = 15) -> T:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            result = await check()
        except httpx.TransportError:
            result = None
        if result is not None:
            return result
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"timed out after {within} s waiting for {what}")
        await asyncio.sleep(0.25)


class PrometheusAPI:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def query(self, expr: str) -> list[dict[str, Any]]:
        response = await self.http.get("/api/v1/query", params={"query": expr})
        body = response.json()
        assert body["status"] == "success", (expr, body)
        result: list[dict[str, Any]] = body["data"]["result"]
        return result

    async def value(self, expr: str) -> float | None:
        result = await self.query(expr)
        return float(result[0]["value"][1]) if result else None


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((CHART / "dashboards" / "tenantry.json").read_text())
    grafana_variables = {
        "$job": "tenantry",
        "$__rate_interval": "1m",
        "$__interval": "1m",
        "$__range": "5m",
    }
    expressions = []
    for panel in dashboard["panels"]:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in grafana_variables.items():
                expr = expr.replace(variable, value)
            expressions.append(expr)
    return expressions


async def test_prometheus_scrapes_the_service(
    database_url: str, make_tenant: TenantFactory, tmp_path: Path
) -> None:
    assert PROMETHEUS is not None
    await make_tenant()  # so that the tenants gauge has something to count
    app_port, prometheus_port = free_port(), free_port()
    multiproc_dir = tmp_path / "multiproc"
    env = {
        **os.environ,
        "TENANTRY_ENV": "test",
        "TENANTRY_DATABASE_URL": database_url,
        "TENANTRY_HOST": "127.0.0.1",
        "TENANTRY_PORT": str(app_port),
        "TENANTRY_DATABASE_POOL_SIZE": str(POOL_SIZE),
        "TENANTRY_DATA_DIR": str(tmp_path / "data"),
        "TENANTRY_LOG_LEVEL": "WARNING",
        "TENANTRY_SHUTDOWN_TIMEOUT_SECONDS": "5",
        "PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir),
    }
    config = tmp_path / "prometheus.yml"
    config.write_text(
        textwrap.dedent(
            f"""
            global:
              scrape_interval: 1s
              scrape_timeout: 1s
            scrape_configs:
              - job_name: tenantry
                static_configs:
                  - targets: ["127.0.0.1:{app_port}"]
            """
        )
    )
    tenantry = str(Path(sys.executable).parent / "tenantry")
    app_log, prometheus_log = tmp_path / "app.log", tmp_path / "prometheus.log"
    serve = [tenantry, "serve", "--workers", str(WORKERS)]
    prometheus = [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{prometheus_port}",
        "--log.level=warn",
    ]
    try:
        async with (
            running(serve, app_log, env) as server,
            httpx.AsyncClient(base_url=f"http://127.0.0.1:{app_port}", timeout=5) as app,
        ):

            async def app_ready() -> bool | None:
                return (await app.get("/readyz")).status_code == 200 or None

            await eventually(app_ready, "the service to be ready", within=30)
            # uvicorn's supervisor once killed workers that were still importing the app.
            assert "died" not in app_log.read_text(), "a worker was replaced during start-up"
            for _ in range(HEALTHZ_CALLS):
                assert (await app.get("/healthz")).status_code == 200
            for _ in range(2):
                assert (await app.get(f"/no/such/path-{uuid.uuid4().hex}")).status_code == 404

            async with (
                running(prometheus, prometheus_log),
                httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{prometheus_port}", timeout=5
                ) as http,
            ):
                api = PrometheusAPI(http)

                async def prometheus_ready() -> bool | None:
                    return (await http.get("/-/ready")).status_code == 200 or None

                await eventually(prometheus_ready, "Prometheus to be ready", within=10)

                async def healthz_count() -> float | None:
                    value = await api.value(
                        'sum(tenantry_http_requests_total{job="tenantry",method="GET",'
                        'route="/healthz",status="200"})'
                    )
                    return value if value == HEALTHZ_CALLS else None

                # The counter adds up both workers' files, whichever worker was scraped.
                await eventually(healthz_count, f"{HEALTHZ_CALLS} /healthz requests in Prometheus")
                await check_series(api)

            await check_graceful_stop(server, multiproc_dir)
    except BaseException:
        for log in (app_log, prometheus_log):
            if log.exists():
                sys.stderr.write(f"--- {log.name}\n{log.read_text(errors='replace')[-4000:]}\n")
        raise


async def check_series(api: PrometheusAPI) -> None:
    assert await api.value('up{job="tenantry"}') == 1
    assert await api.value(f'tenantry_build_info{{version="{__version__}"}}') == 1
    active = await api.value('tenantry_tenants{status="active"}')
    assert active is not None
    assert active >= 1
    assert await api.value('tenantry_tenants{status="suspended"}') is not None
    # livesum: each live worker reports its own pool.
    assert await api.value("tenantry_db_pool_size") == WORKERS * POOL_SIZE
    checked_out = await api.value("tenantry_db_pool_checked_out")
    assert checked_out is not None
    assert 0 <= checked_out <= WORKERS * POOL_SIZE
    in_flight = await api.value("tenantry_http_requests_in_flight")
    assert in_flight is not None
    assert in_flight >= 1  # the scrape itself is in flight while the values are read
    assert (
        await api.value('sum(tenantry_http_request_duration_seconds_count{route="/healthz"})')
        == HEALTHZ_CALLS
    )
    assert await api.value('sum(tenantry_http_requests_total{route="unmatched",status="404"})') == 2
    # Raw paths never become label values.
    assert await api.query('tenantry_http_requests_total{route=~".*path-.*"}') == []
    # Every query of the shared Grafana dashboard is valid PromQL on real data.
    for expr in dashboard_expressions():
        await api.query(expr)


async def check_graceful_stop(server: asyncio.subprocess.Process, multiproc_dir: Path) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    assert await asyncio.wait_for(server.wait(), 15) == 0
    # Each process marked itself dead on the way out: no live gauge of a gone worker remains.
    assert live_gauge_files(multiproc_dir) == []


def live_gauge_files(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.glob("gauge_live*.db"))
