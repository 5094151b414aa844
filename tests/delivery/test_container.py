"""The image recipe and the compose stack. No container engine runs here: lint and read them."""

import re
import subprocess
import zipfile
from pathlib import Path
from typing import Any

import yaml

from tests.delivery.conftest import BIN, CHART, REPO, run

DOCKERFILE = REPO / "Dockerfile"


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the hadolint of this repository's toolchain
        [str(BIN / "hadolint"), "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_dockerfile_is_hadolint_clean() -> None:
    result = hadolint(DOCKERFILE)
    assert (result.returncode, result.stdout + result.stderr) == (0, "")
    assert "hadolint ignore" not in DOCKERFILE.read_text()


def test_hadolint_does_report_problems(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nRUN pip install uv\nCMD tenantry serve\n")
    result = hadolint(bad)
    assert result.returncode != 0
    assert {"DL3006", "DL3013", "DL3025"} <= set(re.findall(r"DL\d{4}", result.stdout))


def test_runtime_stage_is_slim_non_root_and_probed() -> None:
    text = DOCKERFILE.read_text()
    runtime = text[text.index(" AS runtime") :]
    assert text.startswith("# syntax=docker/dockerfile:1")
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim$", text, re.MULTILINE)
    assert "uv sync --frozen --no-dev --no-editable" in text
    assert re.search(r"^USER 10001:10001$", runtime, re.MULTILINE)
    # Nothing is installed in the runtime stage: no package manager, compiler or uv there.
    for command in re.findall(r"^RUN (.+)$", runtime, re.MULTILINE):
        assert not re.search(r"\b(apt-get|apk|pip|uv)\b", command), command
    assert "/healthz" in runtime.split("HEALTHCHECK", 1)[1]
    assert runtime.rstrip().endswith('CMD ["tenantry", "serve"]')


def test_dockerignore_lets_in_exactly_what_the_build_copies() -> None:
    patterns = (REPO / ".dockerignore").read_text().splitlines()
    allowed = {line[1:].rstrip("/") for line in patterns if line.startswith("!")}
    copied = set(re.findall(r"^COPY (?!--from)(.+) \S+$", DOCKERFILE.read_text(), re.MULTILINE))
    sources = {part for line in copied for part in line.split()}
    assert sources == allowed
    assert "*" in patterns


def test_the_wheel_carries_migrations_and_policies(tmp_path: Path) -> None:
    """The image installs the package as a wheel: alembic/ and policies/ must travel inside."""
    run(REPO / ".tools" / "bin" / "uv", "build", "--wheel", "--offline", "--out-dir", tmp_path)
    (wheel,) = tmp_path.glob("tenantry-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    expected = {
        f"tenantry/_resources/{path.relative_to(REPO).as_posix()}"
        for folder in ("alembic", "policies")
        for path in (REPO / folder).rglob("*")
        if path.is_file() and "__pycache__" not in path.parts
    }
    assert any(name.startswith("tenantry/_resources/alembic/tenant/versions/") for name in names)
    assert expected <= names


def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((REPO / "compose.yaml").read_text())
    return loaded


def bind_mounts(service: dict[str, Any]) -> dict[str, Path]:
    """Container path -> repository path of a service's `./host:/container[:ro]` volumes."""
    mounts = {}
    for volume in service["volumes"]:
        host, target = volume.split(":")[:2]
        mounts[target] = REPO / host.removeprefix("./")
    return mounts


def test_compose_runs_migrations_before_the_app() -> None:
    services = compose()["services"]
    assert {"app", "migrate", "postgres", "redis", "prometheus", "grafana"} <= services.keys()
    assert services["migrate"]["command"] == ["tenantry", "db", "upgrade"]
    assert services["app"]["depends_on"]["migrate"] == {
        "condition": "service_completed_successfully"
    }
    assert services["migrate"]["depends_on"]["postgres"] == {"condition": "service_healthy"}
    assert services["app"]["image"] == services["migrate"]["image"]
    env = services["app"]["environment"]
    assert env["TENANTRY_DATABASE_URL"].startswith("postgresql://")
    assert "@postgres:5432/" in env["TENANTRY_DATABASE_URL"]
    assert env["TENANTRY_RATE_LIMIT_URL"] == "redis://redis:6379/0"
    assert services["app"]["read_only"] is True


def test_prometheus_in_compose_scrapes_the_app() -> None:
    services = compose()["services"]
    config_file = bind_mounts(services["prometheus"])["/etc/prometheus/prometheus.yml"]
    config = yaml.safe_load(config_file.read_text())
    (job,) = [job for job in config["scrape_configs"] if job["job_name"] == "tenantry"]
    assert job.get("metrics_path", "/metrics") == "/metrics"
    targets = [target for group in job["static_configs"] for target in group["targets"]]
    app_port = services["app"]["ports"][0].rsplit(":", 1)[1]
    assert targets == [f"app:{app_port}"]


def test_grafana_in_compose_shows_the_charts_dashboard() -> None:
    services = compose()["services"]
    mounts = bind_mounts(services["grafana"])
    provisioning = mounts["/etc/grafana/provisioning"]
    (provider,) = yaml.safe_load((provisioning / "dashboards" / "tenantry.yaml").read_text())[
        "providers"
    ]
    dashboard_dir = provider["options"]["path"]
    shared = [host for target, host in mounts.items() if target.startswith(dashboard_dir + "/")]
    assert shared == [CHART / "dashboards" / "tenantry.json"]
    (datasource,) = yaml.safe_load((provisioning / "datasources" / "prometheus.yaml").read_text())[
        "datasources"
    ]
    assert datasource["url"] == "http://prometheus:9090"
