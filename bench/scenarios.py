"""The measurements. Each scenario gets the shared `Bench` and returns rows for the table.

Add a scenario by writing a function of the same shape and naming it in `SCENARIOS`; a baseline
it compares against runs inside the same function, so the pair always comes from the same run.
"""

import asyncio
import os
import statistics
import time
import urllib.parse
from collections.abc import Callable

from bench.baseline_app import BASELINE_PATH
from bench.harness import ME_PATH, TOKEN_PATH, Bench, fetch_access_token
from bench.report import Row
from bench.wrk import Request
from tenantry.core.security.passwords import PasswordHasher
from tenantry.core.settings import Settings

LOGIN_GOAL = 0.85
ME_RATIO_GOAL = 0.60
ME_P99_GOAL_MS = 50.0

Scenario = Callable[[Bench], list[Row]]


def verify_timings(
    settings: Settings, stored_hash: str, password: str, samples: int
) -> tuple[list[float], float]:
    """`PasswordHasher.verify` with the service's parameters: wall times one at a time, then
    the rate of `2 * samples` verifications sent at once through the service's own hashing path
    (its thread pool and its one-slot-per-core limiter), with no HTTP and no database around."""
    hasher = PasswordHasher.from_settings(settings)

    async def timed() -> tuple[list[float], float]:
        first = await hasher.verify(stored_hash, password)  # warms the thread pool too
        if not first.ok or first.new_hash is not None:
            raise RuntimeError("the seeded hash does not match the service's hash parameters")
        times = []
        for _ in range(samples):
            start = time.perf_counter()
            await hasher.verify(stored_hash, password)
            times.append(time.perf_counter() - start)
        start = time.perf_counter()
        await asyncio.gather(*(hasher.verify(stored_hash, password) for _ in range(2 * samples)))
        return times, 2 * samples / (time.perf_counter() - start)

    return asyncio.run(timed())


def login(bench: Bench) -> list[Row]:
    """Password grant over many users against the ceiling `cores / verify_time` of this machine.

    The hash is timed right before and right after the load run, and the ceiling uses the median
    of both: a virtual machine's cores change speed over minutes, and the ratio must compare the
    login run with the hash speed of the same minutes.
    """
    seed = bench.seed
    server = bench.server("tenantry")
    settings = Settings()  # the harness runs with the servers' TENANTRY_* environment
    samples = bench.options.verify_samples
    cores = os.cpu_count() or 1

    def time_hashes(when: str) -> tuple[list[float], float]:
        times, rate = verify_timings(settings, seed.password_hash, seed.password, samples)
        print(
            f"  hash verify {when}: median {statistics.median(times) * 1000:.1f} ms over "
            f"{len(times)}; {cores} at a time through the service's hasher: {rate:.1f}/s"
        )
        return times, rate

    bench.wait_until_quiet("hash timing")
    times_before, rate_before = time_hashes("before")
    form = {"grant_type": "password", "password": seed.password}
    requests = [
        Request(
            "POST",
            TOKEN_PATH,
            bench.headers(**{"Content-Type": "application/x-www-form-urlencoded"}),
            urllib.parse.urlencode({**form, "username": user.email}),
        )
        for user in seed.users[: bench.options.login_users]
    ]
    connections = bench.options.login_connections
    result = bench.measure("login", server, requests, connections)
    times_after, rate_after = time_hashes("after")
    times = times_before + times_after
    verify_s = statistics.median(times)
    ceiling = cores / verify_s
    parallel_rate = (rate_before + rate_after) / 2
    ratio = result.rps / ceiling
    return [
        Row(
            scenario=f"login: POST {TOKEN_PATH} password grant, {connections} conns",
            result=result,
            baseline=f"hash ceiling {ceiling:.1f}/s ({cores} cores / {verify_s * 1000:.1f} ms)",
            ratio=ratio,
            goal=f"ratio >= {LOGIN_GOAL:.2f}",
            passed=ratio >= LOGIN_GOAL and not result.failed,
            notes=[
                f"argon2id m={settings.password_hash_memory_kib} KiB, "
                f"t={settings.password_hash_time_cost}, p={settings.password_hash_parallelism}; "
                f"verify_time = median of {len(times)} verifications in-process, one at a time, "
                f"half before and half after the run (medians "
                f"{statistics.median(times_before) * 1000:.1f} and "
                f"{statistics.median(times_after) * 1000:.1f} ms); "
                f"logins spread over {len(requests)} users",
                f"hashing alone, {cores} at a time through the service's PasswordHasher (no HTTP, "
                f"no database): {parallel_rate:.1f}/s = {parallel_rate / ceiling:.2f} of the "
                "ceiling",
            ],
        )
    ]


def users_me(bench: Bench) -> list[Row]:
    """Authenticated single-row read against a bare FastAPI app running the same query."""
    seed = bench.seed
    server = bench.server("tenantry")
    chosen = seed.users[: bench.options.token_users]
    tokens = [
        fetch_access_token(server, seed.tenant_slug, user.email, seed.password) for user in chosen
    ]
    connections = bench.options.connections
    me_requests = [
        Request("GET", ME_PATH, bench.headers(Authorization=f"Bearer {token}")) for token in tokens
    ]
    # Same headers on the baseline, so both servers parse requests of the same size.
    baseline_requests = [
        Request("GET", f"{BASELINE_PATH}/{user.id}", bench.headers(Authorization=f"Bearer {token}"))
        for user, token in zip(chosen, tokens, strict=True)
    ]
    baseline = bench.measure("baseline", bench.server("baseline"), baseline_requests, connections)
    bench.stop("baseline")
    me = bench.measure("users_me", server, me_requests, connections)
    ratio = me.rps / baseline.rps if baseline.rps else 0.0
    clean = not me.failed and not baseline.failed
    return [
        Row(
            scenario=f"GET {ME_PATH}, {connections} conns, {len(tokens)} users' tokens",
            result=me,
            baseline=f"bare FastAPI {baseline.rps:.1f}/s",
            ratio=ratio,
            goal=f"ratio >= {ME_RATIO_GOAL:.2f}, p99 < {ME_P99_GOAL_MS:.0f} ms",
            passed=ratio >= ME_RATIO_GOAL and me.p99_ms < ME_P99_GOAL_MS and clean,
        ),
        Row(
            scenario=f"baseline: bare FastAPI, same row by id, {connections} conns",
            result=baseline,
            passed=False if baseline.failed else None,
        ),
    ]


SCENARIOS: dict[str, Scenario] = {"login": login, "users_me": users_me}
