"""Probes: alive always, ready only with a reachable database at the migration head."""

import httpx
import pytest

from tenantry.core.settings import Settings
from tests.fixtures.app import client_for, running_app
from tests.fixtures.database import (
    create_database,
    drop_database,
    embedded_server,
    migrate,
    settings_for,
)


async def test_healthz(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_when_migrated(client: httpx.AsyncClient) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_503_until_platform_schema_is_migrated(database_server: str) -> None:
    url = await create_database(database_server)
    try:
        async with running_app(settings_for(url)) as app, client_for(app) as http:
            response = await http.get("/readyz")
            assert response.status_code == 503
            assert response.json()["reason"] == "platform_schema_not_at_head"
            await migrate(url)
            assert (await http.get("/readyz")).status_code == 200
    finally:
        await drop_database(database_server, url)


@pytest.fixture
def own_server() -> object:
    server = embedded_server("tenantry-outage-pg-")
    yield server
    server.destroy()


async def test_readyz_follows_the_database_down_and_back(own_server: object) -> None:
    from tenantry.devdb import EmbeddedPostgres

    assert isinstance(own_server, EmbeddedPostgres)
    url = own_server.start()
    await migrate(settings_for(url).database_url or "")
    settings: Settings = settings_for(url, database_pool_timeout=1.0)
    async with running_app(settings) as app, client_for(app) as http:
        assert (await http.get("/readyz")).status_code == 200
        own_server.stop()
        down = await http.get("/readyz")
        assert down.status_code == 503
        assert down.json() == {"status": "unavailable", "reason": "database_unreachable"}
        assert (await http.get("/healthz")).status_code == 200
        own_server.start()
        assert (await http.get("/readyz")).status_code == 200
