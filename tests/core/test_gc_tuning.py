"""The collector is tuned once the app has started (see tenantry.app.GC_THRESHOLDS), and its
pauses are timed into `tenantry_gc_pause_seconds`."""

import gc

import httpx
from fastapi import FastAPI
from prometheus_client import REGISTRY

from tenantry.app import GC_THRESHOLDS
from tenantry.core.observability.metrics import record_gc_pauses


async def test_start_up_freezes_the_heap_and_raises_the_thresholds(app: FastAPI) -> None:
    assert app.state.runtime is not None  # the session's app has run its lifespan start-up
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0


def _full_collections() -> tuple[float, float]:
    count = REGISTRY.get_sample_value("tenantry_gc_pause_seconds_count", {"generation": "2"})
    total = REGISTRY.get_sample_value("tenantry_gc_pause_seconds_sum", {"generation": "2"})
    return count or 0.0, total or 0.0


async def test_collections_are_timed_into_the_pause_histogram(app: FastAPI) -> None:
    assert app.state.runtime is not None  # started: the collector is observed
    record_gc_pauses()
    count, total = _full_collections()

    gc.collect()
    # Noted by the collector's callback, observed only once moved (never inside the collector).
    assert _full_collections() == (count, total)
    record_gc_pauses()

    after_count, after_total = _full_collections()
    assert after_count == count + 1
    assert after_total > total


async def test_the_scrape_reports_the_pauses(client: httpx.AsyncClient) -> None:
    gc.collect()
    body = (await client.get("/metrics")).text
    assert 'tenantry_gc_pause_seconds_count{generation="2"}' in body
