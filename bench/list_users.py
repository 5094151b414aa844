"""User-list benchmark: `.venv/bin/python -m bench.list_users` (also run by `make bench`).

A tenant with 10,000 users; GET /api/v1/users?limit=50 through the whole app in-process (httpx's
ASGI transport: middleware, token check, Casbin, query, JSON). For each sort, the first page and
the last page (reached by following next_cursor) are fetched in turn: keyset pagination must
keep the last page as cheap as the first (goal: last-page p50 within 1.5x of the first).
"""

import asyncio
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from sqlalchemy import insert

from bench.database import bench_database
from tenantry.app import create_app
from tenantry.core.database import create_engine
from tenantry.core.security.keys import generate_private_key_pem
from tenantry.core.settings import Environment, Settings
from tenantry.platform.migrations.service import upgrade_fleet
from tenantry.platform.tenants.service import tenant_service
from tenantry.tenants.roles.service import role_service
from tenantry.tenants.users.models import User

USERS = 10_000
REPEAT = 60
PASSWORD = "bench list users passphrase"  # noqa: S105 - a throw-away benchmark user
RESULT = Path(__file__).parent / "results" / "list_users.md"


async def timed_get(
    client: httpx.AsyncClient, headers: dict[str, str], params: dict[str, str]
) -> float:
    started = time.perf_counter()
    response = await client.get("/api/v1/users", params=params, headers=headers)
    elapsed = (time.perf_counter() - started) * 1000
    if response.status_code != 200:
        raise RuntimeError(response.text)
    return elapsed


async def measure_pair(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    first: dict[str, str],
    last: dict[str, str],
) -> tuple[float, float]:
    """Median milliseconds of the first and the last page, REPEAT requests each, alternating:
    this VM's speed drifts within seconds, and one page timed after the other took the drift
    for a difference between them (ratios from 0.46 to 1.83 in consecutive runs)."""
    first_times, last_times = [], []
    for _ in range(REPEAT):
        first_times.append(await timed_get(client, headers, first))
        last_times.append(await timed_get(client, headers, last))
    return statistics.median(first_times), statistics.median(last_times)


async def last_page_params(
    client: httpx.AsyncClient, headers: dict[str, str], sort: str
) -> tuple[dict[str, str], int]:
    """The cursor of the last full page (the very last one may hold a single row)."""
    params = {"limit": "50", "sort": sort}
    last_full = params
    pages = 0
    while True:
        body = (await client.get("/api/v1/users", params=params, headers=headers)).json()
        pages += 1
        if len(body["items"]) == 50:
            last_full = params
        if not body["next_cursor"]:
            return last_full, pages
        params = {"limit": "50", "sort": sort, "cursor": body["next_cursor"]}


async def run() -> str:
    # The directory goes too, not only the database inside it.
    with (
        tempfile.TemporaryDirectory(prefix="tenantry-list-") as workdir,
        bench_database(Path(workdir)) as target,
    ):
        settings = Settings(
            env=Environment.TEST, database_url=target.url, log_level="WARNING",
            signing_keys=[generate_private_key_pem()],
        )  # fmt: skip
        engine = create_engine(settings)
        await upgrade_fleet(engine)
        await engine.dispose()
        app = create_app(settings)
        async with app.router.lifespan_context(app):
            runtime = app.state.runtime
            async with runtime.database.platform_transaction() as session:
                record = await tenant_service.provision(
                    session, slug="list-bench", display_name="B"
                )
            password_hash = await runtime.hasher.hash(PASSWORD)
            async with runtime.database.tenant_transaction(record.schema_name) as session:
                rows = [
                    {"id": uuid.uuid4(), "email": f"user{i:05d}@bench.example",
                     "display_name": f"User {i:05d}", "email_verified": True}
                    for i in range(USERS)
                ]  # fmt: skip
                await session.execute(insert(User), rows)
                admin = User(email="admin@bench.example", password_hash=password_hash)
                session.add(admin)
                await session.flush()
                await role_service.grant_builtin(session, admin, "admin")
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
                token = (
                    await client.post(
                        "/api/v1/oauth/token",
                        data={
                            "grant_type": "password",
                            "username": "admin@bench.example",
                            "password": PASSWORD,
                        },
                        headers={"X-Tenant": "list-bench"},
                    )
                ).json()["access_token"]
                headers = {"X-Tenant": "list-bench", "Authorization": f"Bearer {token}"}
                lines = [
                    "| sort | pages | first page p50 ms | last full page p50 ms | ratio | goal |",
                    "| --- | ---: | ---: | ---: | ---: | --- |",
                ]
                for sort in ("created_at", "email", "display_name"):
                    last_params, pages = await last_page_params(client, headers, sort)
                    first, last = await measure_pair(
                        client, headers, {"limit": "50", "sort": sort}, last_params
                    )
                    verdict = "pass" if last <= 1.5 * first else "**FAIL**"
                    lines.append(
                        f"| {sort} | {pages} | {first:.1f} | {last:.1f} | {last / first:.2f} "
                        f"| <= 1.5 ({verdict}) |"
                    )
    text = (
        f"# User list benchmark\n\n{USERS} users, limit 50, {REPEAT} requests per page, the "
        "first and the last page alternately, in-process through the full app; run "
        "`.venv/bin/python -m bench.list_users`.\n\n" + "\n".join(lines)
    )
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(text + "\n")
    return text


if __name__ == "__main__":
    print(asyncio.run(run()))
