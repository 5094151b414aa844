"""Shared by the delivery tests: where the repository and its tools are."""

import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = REPO / ".venv" / "bin"
CHART = REPO / "helm" / "tenantry"


def run(*command: str | Path, stdin: str | None = None, timeout: float = 60) -> str:
    """Run a tool; fail the test with its output when it exits non-zero."""
    done = subprocess.run(  # noqa: S603 - fixed tools from this repository's toolchain
        [str(part) for part in command],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        cwd=REPO,
    )
    if done.returncode != 0:
        pytest.fail(
            f"{Path(command[0]).name} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout + done.stderr


@pytest.fixture(scope="session")
def helm() -> Path:
    # A missing helm fails the chart tests rather than skipping them: `make test` fetches it.
    binary = Path(os.environ.get("HELM") or REPO / ".tools" / "helm")
    if not binary.is_file():
        pytest.fail(f"no helm binary at {binary}: run `make helm` (or set HELM=/path/to/helm)")
    return binary
