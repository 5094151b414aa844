"""GitHub Actions cannot run here: lint them with zizmor and check what CI relies on."""

import re
import subprocess
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.delivery.conftest import BIN, REPO

WORKFLOWS = REPO / ".github" / "workflows"
FULL_SHA = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def zizmor(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - the zizmor of this repository's toolchain
        [str(BIN / "zizmor"), "--offline", "--no-progress", "--color", "never", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def workflows() -> dict[str, dict[Any, Any]]:
    return {path.name: yaml.safe_load(path.read_text()) for path in WORKFLOWS.glob("*.yml")}


def test_workflows_pass_zizmor() -> None:
    result = zizmor(WORKFLOWS)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_zizmor_does_report_problems(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yml"
    bad.parent.mkdir(parents=True)
    bad.write_text(
        textwrap.dedent(
            """
            on: pull_request_target
            jobs:
              x:
                runs-on: ubuntu-24.04
                steps:
                  - uses: actions/checkout@v4
                  - run: echo ${{ github.event.pull_request.title }}
            """
        )
    )
    result = zizmor(bad)
    assert result.returncode != 0
    assert "unpinned-uses" in result.stdout
    assert "template-injection" in result.stdout


def steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("name", ["ci.yml", "release.yml"])
def test_actions_are_pinned_and_permissions_minimal(name: str) -> None:
    workflow = workflows()[name]
    assert workflow["permissions"] == {"contents": "read"}
    for step in steps(workflow):
        if "uses" in step:
            assert FULL_SHA.fullmatch(step["uses"]), step["uses"]
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def test_ci_runs_what_ci_run_runs() -> None:
    ci = workflows()["ci.yml"]
    commands = " ".join(step.get("run", "") for step in steps(ci))
    script = (REPO / ".ci" / "run").read_text()
    for target in re.findall(r"^make (\w+)", script, re.MULTILINE):
        assert f"make {target}" in commands
    test_job = ci["jobs"]["test"]
    assert {"postgres", "redis"} <= test_job["services"].keys()
    assert any(
        step.get("env", {}).get("TENANTRY_DATABASE_URL", "").startswith("postgresql://")
        for step in test_job["steps"]
    )
    assert "docker buildx build" in commands
    assert "--push" not in commands


def test_release_pushes_image_and_chart_on_version_tags() -> None:
    release = workflows()["release.yml"]
    # PyYAML reads the key `on` as True (YAML 1.1).
    assert release[True]["push"]["tags"] == ["v*.*.*"]
    commands = " ".join(step.get("run", "") for step in steps(release))
    assert "--push" in commands
    assert "ghcr.io" in commands
    assert "helm push" in commands
    assert release["jobs"]["release"]["permissions"]["packages"] == "write"
