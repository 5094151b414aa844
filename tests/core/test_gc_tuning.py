"""The collector is tuned once the app has started (see tenantry.app.GC_THRESHOLDS)."""

import gc

from fastapi import FastAPI

from tenantry.app import GC_THRESHOLDS


async def test_start_up_freezes_the_heap_and_raises_the_thresholds(app: FastAPI) -> None:
    assert app.state.runtime is not None  # the session's app has run its lifespan start-up
    assert gc.get_threshold() == GC_THRESHOLDS
    assert gc.get_freeze_count() > 0
