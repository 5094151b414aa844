"""`login_flood`: does a flood of logins leave the rest of the API standing?

`GET /api/v1/users/me` at 8 connections is measured alone, then again while `--flood-connections`
connections (400 by default, ten times the pool and its overflow) send password grants with
right passwords as fast as they are answered. A login holds a pooled database connection while
it waits for a hashing thread, so without the service's password-check slots such a flood took
every connection and the reads failed with 503 `database_unavailable` after the pool timeout
(measured on 442aaac, docs/deployment.md). The row fails on any error of the reads. The flood's
own row is a reference: its 503 `temporarily_unavailable` answers are the logins shed after
`TENANTRY_PASSWORD_CHECK_WAIT_SECONDS`, and the ratio is the reads' rate during the flood over
their rate alone (the flood's hashes take the cores, so it is well under 1 by design).
"""

import threading
import time

from bench.harness import ME_PATH, TOKEN_PATH, Bench, fetch_access_token
from bench.report import Row
from bench.wrk import Request, WrkResult, run_wrk, write_requests

READ_CONNECTIONS = 8


def login_flood(bench: Bench) -> list[Row]:
    seed = bench.seed
    server = bench.server("tenantry")
    options = bench.options
    tokens = [
        fetch_access_token(server, seed.tenant_slug, user.email, seed.password)
        for user in seed.users[: options.token_users]
    ]
    reads = [Request("GET", ME_PATH, bench.headers(Authorization=f"Bearer {t}")) for t in tokens]
    logins = bench.password_grants()
    alone = bench.measure("flood-reads-alone", server, reads, READ_CONNECTIONS)
    # The flood starts first and outlasts the reads' warm-up and measured run on both ends.
    lead = max(options.warmup, 5.0)
    flood_seconds = lead + options.warmup + options.duration + lead
    flooded: dict[str, WrkResult] = {}

    def flood() -> None:
        flooded["logins"] = run_wrk(
            server.url,
            write_requests(bench.workdir / "flood.requests", logins),
            seconds=flood_seconds,
            connections=options.flood_connections,
            threads=options.threads,
            timeout_s=60,
        )

    flooder = threading.Thread(target=flood, name="login-flood")
    flooder.start()
    time.sleep(lead)
    try:
        during = bench.measure("flood-reads-during", server, reads, READ_CONNECTIONS, quiet=False)
    finally:
        flooder.join()
    logins_result = flooded.get("logins")
    shed = 0 if logins_result is None else logins_result.statuses.get(503, 0)
    return [
        Row(
            scenario=f"GET {ME_PATH} during a login flood, {READ_CONNECTIONS} conns",
            result=during,
            baseline=f"itself without the flood: {alone.rps:.1f}/s",
            ratio=during.rps / alone.rps if alone.rps else 0.0,
            goal="no errors",
            passed=not during.failed and not alone.failed,
            label="reads in flood",
            notes=[
                f"flood: {options.flood_connections} connections of password grants for "
                f"{flood_seconds:.0f} s around the reads' warm-up and run; the ratio is the "
                "reads' rate during the flood over their rate alone (the hashes take the cores)"
            ],
        ),
        Row(
            scenario=f"the flood: POST {TOKEN_PATH}, {options.flood_connections} conns",
            result=logins_result,
            notes=[
                f"{shed} logins answered 503 temporarily_unavailable (no password-check slot "
                "within TENANTRY_PASSWORD_CHECK_WAIT_SECONDS): shed by design, not failures"
            ],
            label="login flood",
        ),
    ]
