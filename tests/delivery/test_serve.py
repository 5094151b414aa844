"""`tenantry serve`, the image's command: graceful shutdown and a clean metrics directory."""

import importlib
from pathlib import Path
from typing import Any

import pytest

from tenantry.core.settings import Settings
from tests.fixtures.database import settings_for

# The package re-exports a function named `main`, which hides the module of that name.
main = importlib.import_module("tenantry.platform.cli.main")


def test_serve_gives_in_flight_requests_time_and_empties_the_metrics_dir(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_url: str
) -> None:
    stale = tmp_path / "gauge_livesum_4242.db"
    stale.write_bytes(b"a worker of the previous run")
    settings: Settings = settings_for(database_url, shutdown_timeout_seconds=17, port=8123)
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(main, "get_settings", lambda: settings)
    monkeypatch.setattr(main.uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))

    main.serve(workers=3)

    (kwargs,) = calls
    assert kwargs["timeout_graceful_shutdown"] == 17
    assert (kwargs["workers"], kwargs["port"], kwargs["factory"]) == (3, 8123, True)
    assert kwargs["access_log"] is False
    assert not stale.exists()
