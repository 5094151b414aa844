"""`make bench`: start PostgreSQL and the service, seed, measure against baselines, write the table.

    python -m bench [--quick] [--duration 10] [--warmup 3] [--only login,users_me] [--rounds 3]
        [--profile]

Everything runs on this machine over loopback, bounded in time (`--max-seconds`), and stops
what it started (servers, PostgreSQL, the run's database) on success, failure, Ctrl-C or SIGTERM.
"""

import argparse
import asyncio
import contextlib
import os
import secrets
import shlex
import shutil
import signal
import sys
import tempfile
import traceback
from pathlib import Path
from types import FrameType

from bench import report
from bench.database import BenchDatabase, bench_database, prepare, server_version
from bench.harness import Bench, Options
from bench.report import Row
from bench.scenarios import SCENARIOS
from bench.wrk import wrk_version
from tenantry.core.observability.logging import configure_logging
from tenantry.core.security.keys import generate_private_key_pem
from tenantry.core.settings import Settings

# Settings the harness decides; every other TENANTRY_* variable in the environment passes through
# to the servers (pool size, statement cache, hash cost...), so tuning can be tried from outside.
HARNESS_SETTINGS = (
    "TENANTRY_ENV",
    "TENANTRY_TENANT_HEADER",
    "TENANTRY_PUBLIC_URL",
    "TENANTRY_SMTP_HOST",
    "TENANTRY_DATABASE_URL",
    "TENANTRY_SIGNING_KEYS",
    "TENANTRY_LOG_LEVEL",
    "TENANTRY_LOG_FORMAT",
    "TENANTRY_RATE_LIMIT_TOKEN_ENDPOINT",
    "TENANTRY_DATA_DIR",
)


# A 1-minute load average above this before the run means something else is using the cores.
BUSY_LOAD = 0.5


class BenchTimeout(Exception):
    pass


def _env_number(name: str, default: float) -> float:
    raw = os.environ.get(name)
    return float(raw) if raw else default


def parse_options(argv: list[str] | None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    add = parser.add_argument
    add("--quick", action="store_true", help="smoke run: 3 s runs after 1 s of warm-up")
    add("--duration", type=float, help="seconds per measured run (BENCH_DURATION, 10)")
    add("--warmup", type=float, help="seconds of warm-up before each run (BENCH_WARMUP, 3)")
    add("--connections", type=int, help="connections for reads (BENCH_CONNECTIONS, 32)")
    add("--login-connections", type=int, help="for login (BENCH_LOGIN_CONNECTIONS, 8)")
    add(
        "--flood-connections",
        type=int,
        help="login connections of the login_flood scenario (BENCH_FLOOD_CONNECTIONS, 400)",
    )
    add("--threads", type=int, help="wrk threads (BENCH_THREADS, 1)")
    add("--login-users", type=int, default=256, help="users the logins rotate over (256)")
    add("--token-users", type=int, default=16, help="users whose tokens the reads rotate (16)")
    add("--verify-samples", type=int, help="hash verifications timed for the ceiling (30)")
    add(
        "--tenants",
        default=os.environ.get("BENCH_TENANTS"),
        help="tenant counts the `tenants` scenario measures at, ascending "
        "(BENCH_TENANTS, 1,100,5000; 1,10,100 with --quick)",
    )
    add(
        "--rounds",
        type=int,
        help="alternate each service run and its baseline this many times and keep the "
        "median ratio (BENCH_ROUNDS, 3; 1 with --quick)",
    )
    add("--only", default=",".join(SCENARIOS), help=f"comma-separated: {', '.join(SCENARIOS)}")
    add("--profile", action="store_true", help="py-spy each measured run (BENCH_PY_SPY or PATH)")
    add("--quiet-wait", type=float, help="wait up to this for an idle machine per run (60)")
    add("--max-seconds", type=int, default=1800, help="abort the whole run after this (1800)")
    add("--strict", action="store_true", help="exit 1 when a goal is missed")
    args = parser.parse_args(argv)
    only = tuple(name.strip() for name in args.only.split(",") if name.strip())
    unknown = [name for name in only if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(unknown)}")
    quick = args.quick
    try:
        tenants = tenant_counts(args.tenants or ("1,10,100" if quick else "1,100,5000"))
    except ValueError as exc:
        parser.error(f"--tenants: {exc}")

    def pick(given: float | None, variable: str, default: float) -> float:
        return given if given is not None else _env_number(variable, default)

    given = " ".join(argv if argv is not None else sys.argv[1:])
    return Options(
        command=f"make bench BENCH_ARGS={shlex.quote(given)}" if given else "make bench",
        duration=pick(args.duration, "BENCH_DURATION", 3 if quick else 10),
        warmup=pick(args.warmup, "BENCH_WARMUP", 1 if quick else 3),
        connections=int(pick(args.connections, "BENCH_CONNECTIONS", 32)),
        login_connections=int(pick(args.login_connections, "BENCH_LOGIN_CONNECTIONS", 8)),
        flood_connections=int(pick(args.flood_connections, "BENCH_FLOOD_CONNECTIONS", 400)),
        threads=int(pick(args.threads, "BENCH_THREADS", 1)),
        login_users=args.login_users,
        token_users=args.token_users,
        verify_samples=args.verify_samples or (10 if quick else 30),
        only=only,
        profile=args.profile,
        max_seconds=args.max_seconds,
        quiet_wait=pick(args.quiet_wait, "BENCH_QUIET_WAIT", 5 if quick else 60),
        strict=args.strict,
        quick=quick,
        tenants=tenants,
        rounds=max(1, int(pick(args.rounds, "BENCH_ROUNDS", 1 if quick else 3))),
    )


def tenant_counts(text: str) -> tuple[int, ...]:
    """`1,100,5000` -> (1, 100, 5000): positive and ascending; the first is the reference."""
    counts = tuple(int(part) for part in text.split(",") if part.strip())
    if not counts or counts[0] < 1 or list(counts) != sorted(set(counts)):
        raise ValueError(f"{text!r} is not a list of ascending positive counts")
    return counts


def server_environment(database: BenchDatabase, workdir: Path) -> dict[str, str]:
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in HARNESS_SETTINGS and name != "PROMETHEUS_MULTIPROC_DIR"
    }
    environment.update(
        # Measured as operators run it (production: cached loggers, no development fallbacks),
        # with the X-Tenant header turned on so that wrk can name tenants on one address.
        TENANTRY_ENV="production",
        TENANTRY_TENANT_HEADER="true",
        TENANTRY_PUBLIC_URL="http://{tenant}.bench.localhost",
        # Production refuses to start without SMTP; nothing in the benchmark sends mail.
        TENANTRY_SMTP_HOST="127.0.0.1",
        TENANTRY_DATABASE_URL=database.url,
        # The key docs/deployment.md tells operators to generate: an EdDSA signature costs the
        # login and the refresh about 60 µs of the event loop's CPU, an RS256 one about 400 µs.
        TENANTRY_SIGNING_KEYS=generate_private_key_pem("ed25519"),
        TENANTRY_LOG_LEVEL="WARNING",
        TENANTRY_LOG_FORMAT="json",
        # The per-IP limiter would otherwise cap the login benchmark at 30/minute.
        TENANTRY_RATE_LIMIT_TOKEN_ENDPOINT="1000000000/minute",  # noqa: S106 - a rate
        TENANTRY_DATA_DIR=str(workdir / "data"),
    )
    return environment


def _interrupt(signum: int, _: FrameType | None) -> None:
    # Once: a second Ctrl-C must not cut the clean-up short and leave servers behind.
    for name in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(name, signal.SIG_IGN)
    raise KeyboardInterrupt(f"signal {signum}")


def _timeout(signum: int, _: FrameType | None) -> None:
    raise BenchTimeout("the run exceeded --max-seconds")


def main(argv: list[str] | None = None) -> int:
    options = parse_options(argv)
    # SIGINT too: a shell that starts the harness in the background would have it ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    signal.signal(signal.SIGALRM, _timeout)
    signal.alarm(options.max_seconds)
    wrk = wrk_version()  # fails early, before any set-up, when wrk is missing
    workdir = Path(tempfile.mkdtemp(prefix="tenantry-bench-"))
    try:
        with contextlib.ExitStack() as cleanup:
            cleanup.callback(shutil.rmtree, workdir, ignore_errors=True)
            return _run(options, workdir, wrk, cleanup)
    except KeyboardInterrupt:
        print("\ninterrupted; servers and PostgreSQL stopped", file=sys.stderr)
        return 130
    except BenchTimeout as exc:
        print(f"\n{exc}; servers and PostgreSQL stopped", file=sys.stderr)
        return 2
    finally:
        signal.alarm(0)


def _run(options: Options, workdir: Path, wrk: str, cleanup: contextlib.ExitStack) -> int:
    load_before = report.load_average()
    if os.getloadavg()[0] > BUSY_LOAD:
        print(f"warning: load average {load_before} before the run; other work skews the figures")
    print("starting PostgreSQL ..." if "TENANTRY_DATABASE_URL" not in os.environ else
          "creating a database on TENANTRY_DATABASE_URL's server ...")  # fmt: skip
    database = cleanup.enter_context(bench_database(workdir))
    environment = server_environment(database, workdir)
    # The harness seeds and times hashes with exactly the settings the servers read.
    os.environ.update({k: v for k, v in environment.items() if k.startswith("TENANTRY_")})
    settings = Settings()
    configure_logging(settings)
    users = max(options.login_users, options.token_users)
    print(f"migrating, provisioning the tenant, seeding {users} users ...")
    seed = asyncio.run(prepare(settings, users=users, password=_bench_password()))
    environment["BENCH_TENANT_SCHEMA"] = seed.tenant_schema  # for the baseline app
    bench = Bench(
        options=options,
        seed=seed,
        environment=environment,
        workdir=workdir,
        postmaster_pid=database.postmaster_pid,
    )
    cleanup.callback(bench.close)
    rows: list[Row] = []
    for name in options.only:
        print(f"{name}:")
        try:
            rows += SCENARIOS[name](bench)
        except (KeyboardInterrupt, BenchTimeout):
            raise
        except Exception as exc:
            traceback.print_exc()
            rows.append(Row(scenario=name, result=None, passed=False, notes=[f"error: {exc}"]))
    bench.close()

    facts = report.machine_facts(asyncio.run(server_version(database.url)), wrk)
    run_settings = {
        "command": options.command,
        "runs": f"{options.duration:.0f} s measured after {options.warmup:.0f} s warm-up, "
        f"wrk --threads {options.threads} --latency",
        "servers": "uvicorn, 1 worker, uvloop, httptools, access log off, log level WARNING",
        "database": "embedded PostgreSQL (fsync off)" if database.embedded else "external",
        "pool": f"{settings.database_pool_size} + {settings.database_max_overflow} overflow, "
        f"statement cache {settings.database_statement_cache_size}",
        "load average before the run (1/5/15 min)": load_before,
    }
    if "tenants" in options.only:
        run_settings["tenant counts"] = ", ".join(str(count) for count in options.tenants)
    notes = [
        "wrk shares the machine's cores with uvicorn and PostgreSQL, so every figure is lower "
        "than a separate load generator would show; the hash ceiling assumes all cores hash.",
        "Latency is wrk's (no coordinated-omission correction); errors are socket errors, "
        "timeouts and non-2xx responses, and any makes the row fail.",
        *bench.notes,
    ]
    written = report.write(rows, facts, run_settings, notes)
    print()
    print(report.table(rows))
    print()
    for row in rows:
        if row.ratio is not None:
            print(f"{row.scenario}: ratio {row.ratio:.2f} ({row.goal}) -> {row.verdict}")
    print(f"\nwritten to {', '.join(str(path) for path in written)}")
    failed = any(row.passed is False for row in rows)
    return 1 if failed and options.strict else 0


def _bench_password() -> str:
    return f"bench-{secrets.token_urlsafe(12)}"
