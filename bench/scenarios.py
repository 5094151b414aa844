"""The measurements. Each scenario gets the shared `Bench` and returns rows for the table.

Add a scenario by writing a function of the same shape and naming it in `SCENARIOS`; a baseline
it compares against runs inside the same function, so the pair always comes from the same run.
"""

import asyncio
import json
import os
import random
import statistics
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from bench import fleet
from bench.baseline_app import BASELINE_LOGIN_PATH, BASELINE_PATH, BASELINE_TOKEN_PATH
from bench.flood import login_flood
from bench.harness import (
    FORM_TYPE,
    ME_PATH,
    TOKEN_PATH,
    USERS_PATH,
    Bench,
    fetch,
    fetch_access_token,
    fetch_tokens,
    resident_memory_mib,
    send,
)
from bench.report import Row
from bench.servers import UvicornServer
from bench.wrk import Request, WrkResult, not_2xx
from tenantry.core.security.passwords import PasswordHasher
from tenantry.core.settings import Settings

LOGIN_GOAL = 0.85
ME_RATIO_GOAL = 0.60
LIST_RATIO_GOAL = 0.60  # authenticated reads: at least 60% of the bare baseline, as /users/me
LIST_LIMIT = 50
TENANTS_P99_GOAL = 1.5  # p99 at the most tenants within 1.5x of p99 at the fewest

REFRESH_FORM = "grant_type=refresh_token&refresh_token="  # refresh.lua appends the token
SIGN_IN_WORKERS = 4
PRIME_WORKERS = 8
# The tenants scenario's request list: at least this many lines per tenant, and in all.
TENANT_LINES_PER_TENANT = 5
TENANT_MIN_LINES = 2000

Scenario = Callable[[Bench], list[Row]]


def verify_timings(
    settings: Settings, stored_hash: str, password: str, samples: int, seconds: float
) -> tuple[list[float], float]:
    """`PasswordHasher.verify` with the service's parameters: wall times of `samples` one at a
    time, then the rate over `seconds` of `cores` verifications kept in flight through the
    service's own hashing path (its thread pool), with no HTTP and no database around."""
    hasher = PasswordHasher.from_settings(settings)
    cores = os.cpu_count() or 1

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
        deadline = start + seconds
        done = 0

        async def keep_verifying() -> None:
            nonlocal done
            while time.perf_counter() < deadline:
                await hasher.verify(stored_hash, password)
                done += 1

        await asyncio.gather(*(keep_verifying() for _ in range(cores)))
        return times, done / (time.perf_counter() - start)

    return asyncio.run(timed())


def login(bench: Bench) -> list[Row]:
    """Password grant over many users against the hash-verify ceiling of this machine.

    The ceiling is measured, not extrapolated: the service's own `PasswordHasher` verifying
    `cores` passwords at a time, with nothing else running, right before and right after each
    login run (a virtual machine's cores change speed over minutes; the mean of both compares the
    login run with the hash speed of the same minutes). With several rounds the row keeps the
    round of median ratio. `cores / single verify time` is reported too: it assumes the cores
    scale perfectly, which SMT siblings and a shared memory bus do not.

    Between the same two ceilings runs the bare FastAPI login of bench/baseline_app.py (the same
    hashing, statements and signature, no framework around them), the two in alternating order:
    its row tells what share of the ceiling this machine leaves to any Python service at all.
    """
    seed = bench.seed
    server = bench.server("tenantry")
    bare_server = bench.server("baseline")
    settings = Settings()  # the harness runs with the servers' TENANTRY_* environment
    samples = bench.options.verify_samples
    cores = os.cpu_count() or 1

    def time_hashes(when: str) -> tuple[list[float], float]:
        times, rate = verify_timings(
            settings, seed.password_hash, seed.password, samples, bench.options.duration
        )
        print(
            f"  hash verify {when}: median {statistics.median(times) * 1000:.1f} ms over "
            f"{len(times)}; {cores} at a time through the service's hasher: {rate:.1f}/s"
        )
        return times, rate

    requests = bench.password_grants()
    bare_requests = [replace(request, path=BASELINE_LOGIN_PATH) for request in requests]
    connections = bench.options.login_connections
    # ceiling, logins, ceiling, logins, ... ceiling: each login run is compared with the mean of
    # the ceilings measured right before and right after it.
    bench.wait_until_quiet("hash timing")
    ceilings = [time_hashes("before round 1")]
    rounds: list[tuple[WrkResult, float]] = []
    bare_rounds: list[tuple[WrkResult, float]] = []
    runs = {"login": (server, requests), "login-bare": (bare_server, bare_requests)}
    for number, suffix in _round_suffixes(bench):
        order = list(runs) if number % 2 else list(runs)[::-1]
        done = {
            name: bench.measure(f"{name}{suffix}", runs[name][0], runs[name][1], connections)
            for name in order
        }
        result, bare = done["login"], done["login-bare"]
        bench.wait_until_quiet("hash timing")
        ceilings.append(time_hashes(f"after round {number}"))
        mean = (ceilings[-2][1] + ceilings[-1][1]) / 2
        rounds.append((result, mean))
        bare_rounds.append((bare, mean))
    ratios = [result.rps / ceiling for result, ceiling in rounds]
    middle = _median_index(ratios)
    result, ceiling = rounds[middle]
    ratio = ratios[middle]
    bare_ratios = [bare.rps / ceiling for bare, ceiling in bare_rounds]
    bare_middle = _median_index(bare_ratios)
    times = [time for timed, _ in ceilings for time in timed]
    verify_s = statistics.median(times)
    extrapolated = cores / verify_s
    rates = ", ".join(f"{rate:.1f}/s" for _, rate in ceilings)
    return [
        Row(
            scenario=f"login: POST {TOKEN_PATH} password grant, {connections} conns",
            result=result,
            baseline=f"hash ceiling {ceiling:.1f}/s ({cores} verifications at a time)",
            ratio=ratio,
            goal=f"ratio >= {LOGIN_GOAL:.2f}",
            passed=ratio >= LOGIN_GOAL and not any(run.failed for run, _ in rounds),
            label="login",
            ratio_goal=LOGIN_GOAL,
            notes=[
                f"argon2id m={settings.password_hash_memory_kib} KiB, "
                f"t={settings.password_hash_time_cost}, p={settings.password_hash_parallelism}; "
                f"ceiling = verifications per second through the service's PasswordHasher, "
                f"{cores} at a time for {bench.options.duration:.0f} s (no HTTP, no database), "
                f"before the first login run and after each: {rates}; "
                f"logins spread over {len(requests)} users",
                f"one verification at a time: median {verify_s * 1000:.1f} ms over {len(times)}; "
                f"{cores} cores / that = {extrapolated:.1f}/s, against which the login rate is "
                f"{result.rps / extrapolated:.2f}",
                *_rounds_note(ratios, "the ceiling's runs on either side of it"),
                "the service's login rate over the bare login's, round by round: "
                + ", ".join(
                    f"{run.rps / bare.rps:.2f}"
                    for (run, _), (bare, _) in zip(rounds, bare_rounds, strict=True)
                ),
            ],
        ),
        Row(
            scenario=f"baseline: bare FastAPI password grant, same hashing, statements and "
            f"signature, {connections} conns",
            result=bare_rounds[bare_middle][0],
            baseline=f"hash ceiling {bare_rounds[bare_middle][1]:.1f}/s",
            ratio=bare_ratios[bare_middle],
            passed=False if any(bare.failed for bare, _ in bare_rounds) else None,
            label="login baseline",
            notes=_rounds_note(bare_ratios, "the ceiling's runs on either side of it"),
        ),
    ]


def _sign_in_many(bench: Bench, server: UvicornServer, count: int) -> list[str]:
    """`count` refresh tokens, each the head of its own session: password grants over the seeded
    users in turn, a few at a time (the server hashes on its cores either way)."""
    seed = bench.seed

    def sign_in(number: int) -> str:
        user = seed.users[number % len(seed.users)]
        return fetch_tokens(server, seed.tenant_slug, user.email, seed.password)["refresh_token"]

    with ThreadPoolExecutor(max_workers=SIGN_IN_WORKERS) as pool:
        return list(pool.map(sign_in, range(count)))


def _rotate(
    bench: Bench, label: str, server: UvicornServer, path: str, chains: list[str]
) -> WrkResult:
    """Rotation through `path` with refresh.lua: the first chain primes, then the warm-up and
    the measured run each use up chains of their own (a rotated token never comes back)."""
    connections = bench.options.connections
    per_run = _chains_per_run(bench)
    files = {}
    for run, heads in (("warmup", chains[1 : per_run + 1]), ("run", chains[per_run + 1 :])):
        files[run] = bench.workdir / f"{label}.{run}.chains"
        files[run].write_text("".join(f"{head}\n" for head in heads), encoding="utf-8")
    headers = bench.headers(**{"Content-Type": FORM_TYPE})
    return bench.measure(
        label,
        server,
        [Request("POST", path, headers, REFRESH_FORM)],
        connections,
        script="refresh.lua",
        environment={"BENCH_CHAINS": str(files["run"])},
        warmup_environment={"BENCH_CHAINS": str(files["warmup"])},
        prime=Request("POST", path, headers, REFRESH_FORM + chains[0]),
    )


def _chunks(items: list[str], size: int) -> list[list[str]]:
    return [items[start : start + size] for start in range(0, len(items), size)]


def _chains_per_run(bench: Bench) -> int:
    """A chain per connection, and one per wrk thread for the request() call wrk makes (and
    never sends) before the run: see refresh.lua."""
    connections = bench.options.connections
    return connections + min(bench.options.threads, connections)


def _round_suffixes(bench: Bench) -> list[tuple[int, str]]:
    """(number, label suffix) of each round; one round keeps the plain labels."""
    rounds = bench.options.rounds
    return [(number, f"-{number}" if rounds > 1 else "") for number in range(1, rounds + 1)]


def _median_index(values: list[float]) -> int:
    """The index of the median value (the lower of the middle two for an even count)."""
    order = sorted(range(len(values)), key=values.__getitem__)
    return order[(len(order) - 1) // 2]


def _rounds_note(ratios: list[float], against: str) -> list[str]:
    if len(ratios) < 2:
        return []
    listed = ", ".join(f"{ratio:.2f}" for ratio in ratios)
    return [
        f"{len(ratios)} rounds, each run compared with {against}: ratios {listed}; "
        "the row shows the round of median ratio"
    ]


def _alternate(
    bench: Bench,
    service: Callable[[str], WrkResult],
    baseline: Callable[[str], WrkResult],
) -> list[tuple[WrkResult, WrkResult]]:
    """(service, baseline) per round, the baseline measured first in each: drift of the machine
    over minutes reaches both halves of a pair alike."""
    pairs = []
    for _, suffix in _round_suffixes(bench):
        bare = baseline(suffix)
        pairs.append((service(suffix), bare))
    return pairs


Measured = tuple[str, UvicornServer, list[Request]]  # label, server, the requests wrk replays


def _alternate_requests(
    bench: Bench, service: Measured, baseline: Measured
) -> list[tuple[WrkResult, WrkResult]]:
    """`_alternate` for two request lists replayed with `bench.measure`."""

    def runs(
        label: str, server: UvicornServer, requests: list[Request]
    ) -> Callable[[str], WrkResult]:
        return lambda suffix: bench.measure(
            f"{label}{suffix}", server, requests, bench.options.connections
        )

    return _alternate(bench, runs(*service), runs(*baseline))


def _against_baseline(
    *,
    scenario: str,
    pairs: list[tuple[WrkResult, WrkResult]],
    baseline_scenario: str,
    label: str,
    goal: float | None,
    notes: list[str],
    faithful: bool = True,
) -> list[Row]:
    """The measured row with its ratio to the bare baseline, then the baseline as a reference.

    `pairs` holds (service, baseline) per round; the rows show the round of median ratio. With
    no `goal` the row only fails on errors (in any round); `faithful` is False when the baseline
    was found to do less than the service (its answer differed), which fails the row too.
    """
    ratios = [result.rps / baseline.rps if baseline.rps else 0.0 for result, baseline in pairs]
    middle = _median_index(ratios)
    result, baseline = pairs[middle]
    ratio = ratios[middle]
    clean = not any(run.failed for pair in pairs for run in pair)
    passed: bool | None
    if goal is None:
        passed = None if clean else False
    else:
        passed = ratio >= goal and clean and faithful
    return [
        Row(
            scenario=scenario,
            result=result,
            baseline=f"bare FastAPI {baseline.rps:.1f}/s",
            ratio=ratio,
            goal="none set" if goal is None else f"ratio >= {goal:.2f}",
            passed=passed,
            notes=[*notes, *_rounds_note(ratios, "the baseline run just before it")],
            label=label,
            ratio_goal=goal,
        ),
        Row(
            scenario=baseline_scenario,
            result=baseline,
            passed=False if any(bare.failed for _, bare in pairs) else None,
            label=f"{label} baseline",
        ),
    ]


def refresh(bench: Bench) -> list[Row]:
    """Refresh-token rotation against a bare FastAPI app running the same statements."""
    server = bench.server("tenantry")
    connections = bench.options.connections
    per_run = 2 * _chains_per_run(bench) + 1  # warm-up and measured run, one to prime
    runs = 2 * bench.options.rounds
    print(f"  signing in {runs * per_run} sessions for the refresh-token chains ...")
    heads = iter(_chunks(_sign_in_many(bench, server, runs * per_run), per_run))
    baseline_server = bench.server("baseline")
    pairs = _alternate(
        bench,
        lambda suffix: _rotate(bench, f"refresh{suffix}", server, TOKEN_PATH, next(heads)),
        lambda suffix: _rotate(
            bench, f"refresh_baseline{suffix}", baseline_server, BASELINE_TOKEN_PATH, next(heads)
        ),
    )
    bench.stop("baseline")
    return _against_baseline(
        scenario=f"refresh: POST {TOKEN_PATH} refresh_token grant, {connections} conns, "
        f"{connections} rotating chains",
        pairs=pairs,
        baseline_scenario=f"baseline: bare FastAPI, same rotation statements, {connections} conns",
        label="refresh",
        goal=None,
        notes=[
            "each chain is one session: every request presents its chain's current refresh "
            "token and the answer's new one is the next (never replayed); warm-up and "
            f"measured run each use {_chains_per_run(bench)} fresh sessions (one per "
            "connection, one more per wrk thread: see lua/refresh.lua)",
            "the baseline runs the statements of a rotation in one transaction (UPDATE the "
            "presented token used RETURNING its session, SELECT the session and the user, "
            "UPDATE the session, INSERT the next token) but signs no JWT (the service signs "
            "an RS256 access token per rotation) and has no middleware nor ORM",
        ],
    )


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
    pairs = _alternate_requests(
        bench,
        ("users_me", server, me_requests),
        ("baseline", bench.server("baseline"), baseline_requests),
    )
    bench.stop("baseline")
    return _against_baseline(
        scenario=f"GET {ME_PATH}, {connections} conns, {len(tokens)} users' tokens",
        pairs=pairs,
        baseline_scenario=f"baseline: bare FastAPI, same row by id, {connections} conns",
        label="users/me",
        goal=ME_RATIO_GOAL,
        notes=[],
    )


def list_users(bench: Bench) -> list[Row]:
    """The admin user list's first page against a bare FastAPI app running the same queries."""
    seed = bench.seed
    server = bench.server("tenantry")
    token = fetch_access_token(server, seed.tenant_slug, seed.admin.email, seed.password)
    headers = bench.headers(Authorization=f"Bearer {token}")
    connections = bench.options.connections
    listed = Request("GET", f"{USERS_PATH}?limit={LIST_LIMIT}", headers)
    bare = Request("GET", f"{BASELINE_PATH}?limit={LIST_LIMIT}", headers)
    baseline_server = bench.server("baseline")
    same = _same_json(fetch(server, listed), fetch(baseline_server, bare))
    pairs = _alternate_requests(
        bench,
        ("list_users", server, [listed]),
        ("list_users_baseline", baseline_server, [bare]),
    )
    bench.stop("baseline")
    users = len(seed.users) + 1
    return _against_baseline(
        scenario=f"GET {USERS_PATH}?limit={LIST_LIMIT}, {connections} conns, admin's token",
        pairs=pairs,
        baseline_scenario=f"baseline: bare FastAPI, same page queries, {connections} conns",
        label="users list",
        goal=LIST_RATIO_GOAL,
        notes=[
            f"first page of {users} users in the default sort (created_at, id); only the "
            "admin holds a role; the baseline sends the same two queries (the page with "
            "limit + 1 rows, the page's roles) and answers the same UserPage JSON"
            + ("" if same else "; **its answer differed from the service's**"),
        ],
        faithful=same,
    )


def _same_json(service: tuple[int, bytes], baseline: tuple[int, bytes]) -> bool:
    """Both answered 200 with equal JSON: the baseline does the service's work, not less."""
    if service[0] != 200 or baseline[0] != 200:
        print(f"  service answered {service[0]}, baseline {baseline[0]}")
        return False
    equal: bool = json.loads(service[1]) == json.loads(baseline[1])
    if not equal:
        print("  the baseline's JSON differs from the service's")
    return equal


def tenants(bench: Bench) -> list[Row]:
    """GET /users/me latency with more and more tenants provisioned, a random tenant per request.

    Tenant 1 is the benchmark tenant; the others are provisioned between measurements
    (bench/fleet.py), so each count is measured on the same server process, which keeps whatever
    its caches (tenant directory, Casbin enforcers, statement caches) hold by then.
    """
    server = bench.server("tenantry")
    settings = Settings()
    logins = [asyncio.run(fleet.seeded_login(settings, bench.seed))]
    measured: list[tuple[int, WrkResult, str]] = []
    for count in bench.options.tenants:
        if count > len(logins):
            print(f"  tenants: provisioning {count - len(logins)} tenants up to {count} ...")
            started = time.perf_counter()
            logins += asyncio.run(fleet.grow(settings, have=len(logins), target=count))
            grown = f"provisioned up to {count} in {time.perf_counter() - started:.0f} s"
            refused = asyncio.run(fleet.checkpoint(settings))
            grown += (
                f" (CHECKPOINT refused: {refused})"
                if refused
                else ", then a CHECKPOINT and a wait for the disk writes to finish"
            )
        else:
            grown = "the benchmark tenant"
        result, note = _spread_over(bench, server, logins[:count])
        measured.append((count, result, f"{grown}; {note}"))
    return _tenant_rows(bench, settings, measured)


def _spread_over(
    bench: Bench, server: UvicornServer, logins: list[fleet.TenantLogin]
) -> tuple[WrkResult, str]:
    """Prime every tenant once, then measure over a shuffled list where each tenant appears,
    `--rounds` times in a row; the run of median p99 stands for the count (a failed run, if
    any, so that errors are never hidden)."""
    count = len(logins)
    print(f"  tenants: signing {count} access tokens ...")
    requests = [
        Request(
            "GET",
            ME_PATH,
            {"X-Tenant": login.slug, "Authorization": f"Bearer {login.access_token()}"},
        )
        for login in logins
    ]
    started = time.perf_counter()
    statuses = _prime_each(server, requests)
    primed = time.perf_counter() - started
    lines = max(TENANT_LINES_PER_TENANT * count, TENANT_MIN_LINES)
    order = requests * -(-lines // count)  # every tenant equally often, then shuffled
    random.Random(count).shuffle(order)
    runs = [
        bench.measure(f"tenants_{count}{suffix}", server, order, bench.options.connections)
        for _, suffix in _round_suffixes(bench)
    ]
    p99s = [run.p99_ms for run in runs]
    result = runs[_median_index(p99s)]
    rounds = (
        f"; {len(runs)} runs in a row, p99 {', '.join(f'{p99:.0f}' for p99 in p99s)} ms, "
        "the row shows the run of median p99"
        if len(runs) > 1
        else ""
    )
    if any(run.failed for run in runs):
        result = next(run for run in runs if run.failed)
    rss = resident_memory_mib(server.pid)
    failed = sum(number for status, number in statuses.items() if not 200 <= status < 300)
    primed_all = f"**{failed} not 2xx: {', '.join(not_2xx(statuses))}**" if failed else "all 2xx"
    return result, (
        f"warm-up covered every tenant: a priming pass sent one request per tenant "
        f"({PRIME_WORKERS} at a time, {primed:.1f} s, {primed_all}), then the wrk warm-up; "
        f"wrk replays {len(order)} requests in a seeded random order, each tenant "
        f"{len(order) // count} times{rounds}; server RSS after the runs: "
        + (f"{rss:.0f} MiB" if rss is not None else "unknown")
    )


def _prime_each(server: UvicornServer, requests: list[Request]) -> Counter[int]:
    """One request per tenant, a few at a time (fewer than the pool's connections: a cold
    tenant's first request needs two, see `Bench._prime`); status 0 for a socket error."""

    def attempt(request: Request) -> int:
        try:
            return send(server, request)
        except OSError:
            return 0

    with ThreadPoolExecutor(max_workers=PRIME_WORKERS) as pool:
        return Counter(pool.map(attempt, requests))


def _tenant_rows(
    bench: Bench, settings: Settings, measured: list[tuple[int, WrkResult, str]]
) -> list[Row]:
    connections = bench.options.connections
    first_count, first, _ = measured[0]
    first_tenants = "tenant" if first_count == 1 else "tenants"
    caches = (
        f"server caches: tenant directory {settings.tenant_cache_size} entries "
        f"(TTL {settings.tenant_cache_ttl_seconds:.0f} s), Casbin enforcers "
        f"{settings.authz_cache_size} tenants, asyncpg statements "
        f"{settings.database_statement_cache_size} per connection (one text per query for all "
        f"tenants, each transaction bound to its schema by SET LOCAL search_path), pool "
        f"{settings.database_pool_size} + {settings.database_max_overflow}, a tenant's session "
        "preferring the idle connection that served it before, a backend replaced after "
        f"{settings.database_schemas_per_backend} tenant schemas"
    )
    rows = []
    for position, (count, result, note) in enumerate(measured):
        last = position == len(measured) - 1 and position > 0
        ratio = result.p99_ms / first.p99_ms if last and first.p99_ms else None
        passed: bool | None = None  # a goal on the last count only; errors fail any row
        if result.failed:
            passed = False
        elif last:
            passed = ratio is not None and ratio <= TENANTS_P99_GOAL
        provisioned = "1 tenant" if count == 1 else f"{count} tenants"
        rows.append(
            Row(
                scenario=f"GET {ME_PATH}, {provisioned} provisioned, random tenant per request, "
                f"{connections} conns",
                result=result,
                baseline=f"p99 at {first_count} {first_tenants} {first.p99_ms:.1f} ms"
                if last
                else "-",
                ratio=ratio,
                goal=f"p99 <= {TENANTS_P99_GOAL:.1f}x p99 at {first_count}" if last else "-",
                passed=passed,
                notes=[note, caches] if last else [note],
                label=f"users/me, {provisioned}",
                ratio_goal=TENANTS_P99_GOAL if last else None,
            )
        )
    return rows


SCENARIOS: dict[str, Scenario] = {
    "login": login,
    "refresh": refresh,
    "users_me": users_me,
    "list_users": list_users,
    "tenants": tenants,
    "login_flood": login_flood,
}
