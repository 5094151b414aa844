"""Instructions per request on the service's event loop, counted by callgrind.

    python -m bench.instructions [--requests 40] [--warmup 20] [--only login,me,list]

For A/B comparisons of a code change. CPU time per request on this VM moves by 10-20% from one
minute to the next, more than most changes gain or lose; valgrind's callgrind counts the
instructions a process executes, which depend on the code and its inputs, not on the machine's
mood. The service runs under callgrind, about fifty times slower (start-up takes minutes). Per
scenario, after a warm-up, the counters are zeroed, the requests are sent one at a time and the
counters dumped; the figure is the inclusive count of uvloop's run loop, so the event loop's
thread only. Password hashing runs on the executor's threads and is not in it: the seed uses the
cheapest hash the settings allow, to keep the run short.

The database is the benchmark's (`bench.database`): embedded, or a new one on the server of
`TENANTRY_DATABASE_URL`. Needs valgrind (Debian: `apt-get install valgrind`).
"""

import argparse
import asyncio
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path

from bench.database import Seed, bench_database, prepare
from bench.harness import FORM_TYPE, ME_PATH, TOKEN_PATH, USERS_PATH
from bench.run import server_environment
from bench.servers import UvicornServer
from tenantry.core.settings import Settings

TOOLS = ("valgrind", "callgrind_control", "callgrind_annotate")
CHEAPEST_HASH = {
    "TENANTRY_PASSWORD_HASH_MEMORY_KIB": "8192",
    "TENANTRY_PASSWORD_HASH_TIME_COST": "1",
}
EVENT_LOOP = "Loop__Loop__run ["  # uvloop's run loop, as callgrind_annotate names it
PASSWORD = "instructions-bench-password"  # noqa: S105 - the seeded users', in a throwaway database


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="counted per scenario (40)")
    parser.add_argument("--warmup", type=int, default=20, help="sent before counting (20)")
    parser.add_argument("--only", default="login,me,list", help="login, me, list")
    options = parser.parse_args(argv)
    missing = [tool for tool in TOOLS if shutil.which(tool) is None]
    if missing:
        print(f"needs {', '.join(missing)} (Debian: apt-get install valgrind)", file=sys.stderr)
        return 2
    workdir = Path(tempfile.mkdtemp(prefix="tenantry-instructions-"))
    try:
        with bench_database(workdir) as database:
            environment = server_environment(database, workdir)
            # server_environment passes the caller's TENANTRY_* through; these only fill gaps.
            for name, value in CHEAPEST_HASH.items():
                environment.setdefault(name, value)
            os.environ.update({k: v for k, v in environment.items() if k.startswith("TENANTRY_")})
            seed = asyncio.run(
                prepare(Settings(), users=64, password=PASSWORD)
            )  # a full page of 50
            out = workdir / "callgrind.out"
            server = UvicornServer(
                "tenantry-callgrind",
                "tenantry.app:create_app",
                environment,
                log_dir=workdir,
                ready_path="/readyz",
                wrapper=["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}.%p",
                         "--dump-instr=no", "--collect-jumps=no"],
            )  # fmt: skip
            print("starting the service under callgrind (a few minutes) ...", flush=True)
            server.start(timeout_s=1200)
            try:
                _count(options, server, seed)
            finally:
                server.stop()
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _count(options: argparse.Namespace, server: UvicornServer, seed: Seed) -> None:
    client = _Client(server.port, seed.tenant_slug)
    users = [user.email for user in seed.users]
    admin = client.login(seed.admin.email)
    scenarios: dict[str, Callable[[int], object]] = {
        "login": lambda number: client.login(users[number % len(users)]),
        "me": lambda _: client.get(ME_PATH, admin),
        "list": lambda _: client.get(f"{USERS_PATH}?limit=50", admin),
    }
    for name in options.only.split(","):
        send = scenarios[name.strip()]
        for number in range(options.warmup):
            send(number)
        _control("-z", server.pid)
        for number in range(options.requests):
            send(number)
        _control("-d", server.pid)
        per_request = (
            _event_loop_instructions(server.log_path.parent, server.pid) / options.requests
        )
        print(
            f"{name}: {per_request:,.0f} instructions a request on the event loop's thread "
            f"({options.requests} requests)",
            flush=True,
        )


class _Client:
    """One keep-alive connection, one request at a time."""

    def __init__(self, port: int, tenant: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.tenant = tenant

    def login(self, email: str) -> str:
        form = {"grant_type": "password", "username": email, "password": PASSWORD}
        body = self._send(
            "POST",
            TOKEN_PATH,
            urllib.parse.urlencode(form),
            {"Content-Type": FORM_TYPE},
        )
        token: str = json.loads(body)["access_token"]
        return token

    def get(self, path: str, token: str) -> bytes:
        return self._send("GET", path, None, {"Authorization": f"Bearer {token}"})

    def _send(self, method: str, path: str, body: str | None, headers: dict[str, str]) -> bytes:
        self.connection.request(
            method, path, body=body, headers={"X-Tenant": self.tenant, **headers}
        )
        answer = self.connection.getresponse()
        data = answer.read()
        if answer.status != 200:
            raise RuntimeError(f"{method} {path} answered {answer.status}: {data[:200]!r}")
        return data


def _control(flag: str, pid: int) -> None:
    subprocess.run(["callgrind_control", flag, str(pid)], check=True, capture_output=True)  # noqa: S603, S607


def _event_loop_instructions(workdir: Path, pid: int) -> int:
    """The inclusive count of the run loop in the newest dump of `pid`."""
    deadline = time.monotonic() + 60
    dumps: list[Path] = []
    while not dumps and time.monotonic() < deadline:
        dumps = sorted(
            workdir.glob(f"callgrind.out.{pid}.*"), key=lambda path: path.stat().st_mtime
        )
        time.sleep(0.5)
    if not dumps:
        raise RuntimeError("callgrind wrote no dump")
    command = ["callgrind_annotate", "--inclusive=yes", "--threshold=100", str(dumps[-1])]
    annotated = subprocess.run(  # noqa: S603 - valgrind's tool from PATH, fixed arguments
        command,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    dumps[-1].unlink()
    for line in annotated.splitlines():
        if EVENT_LOOP in line:
            return int(line.split()[0].replace(",", ""))
    raise RuntimeError("no uvloop run loop in the dump: is the service on uvloop?")


if __name__ == "__main__":
    raise SystemExit(main())
