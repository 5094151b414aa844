"""One version names the package, the image and the chart; the changelog describes it."""

import re
import tomllib
from importlib.metadata import version

import yaml

from tests.delivery.conftest import CHART, REPO

PYPROJECT_VERSION = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]


def test_chart_version_and_app_version_follow_pyproject() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    assert (chart["version"], chart["appVersion"]) == (PYPROJECT_VERSION, PYPROJECT_VERSION)


def test_installed_package_reports_the_same_version() -> None:
    assert version("tenantry") == PYPROJECT_VERSION


def test_changelog_has_an_entry_for_the_version() -> None:
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert re.search(rf"^## \[{re.escape(PYPROJECT_VERSION)}\]", changelog, re.MULTILINE)
