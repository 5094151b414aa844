"""What every scenario shares: options, the seeded data, servers started on demand, measuring."""

import contextlib
import dataclasses
import json
import os
import shutil
import subprocess
import urllib.error
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench import cpu, gcpauses
from bench.cpu import CpuMeter
from bench.database import Seed
from bench.report import RESULTS_DIR
from bench.servers import UvicornServer
from bench.wrk import Request, WrkResult, run_wrk, write_requests

TOKEN_PATH = "/api/v1/oauth/token"  # noqa: S105 - a path, not a secret
ME_PATH = "/api/v1/users/me"
USERS_PATH = "/api/v1/users"
FORM_TYPE = "application/x-www-form-urlencoded"


@dataclass(frozen=True)
class Options:
    command: str  # how to repeat this run, for the report
    duration: float
    warmup: float
    connections: int
    login_connections: int
    flood_connections: int
    threads: int
    login_users: int
    token_users: int
    verify_samples: int
    only: tuple[str, ...]
    profile: bool
    max_seconds: int
    quiet_wait: float
    strict: bool
    quick: bool
    tenants: tuple[int, ...]  # tenant counts of the `tenants` scenario, ascending
    rounds: int = 1  # a compared pair is measured this many times, alternating; median kept


# Servers the scenarios can ask for: name -> (ASGI factory, readiness path).
SERVERS = {
    "tenantry": ("tenantry.app:create_app", "/readyz"),
    "baseline": ("bench.baseline_app:create_app", "/healthz"),
}


@dataclass
class Bench:
    options: Options
    seed: Seed
    environment: dict[str, str]
    workdir: Path
    postmaster_pid: int | None = None
    notes: list[str] = field(default_factory=list)
    _servers: dict[str, UvicornServer] = field(default_factory=dict)

    def server(self, name: str) -> UvicornServer:
        """The named server, started on first use; `close()` stops every one still running."""
        running = self._servers.get(name)
        if running is None:
            factory, ready_path = SERVERS[name]
            running = UvicornServer(
                name, factory, self.environment, log_dir=self.workdir, ready_path=ready_path
            )
            self._servers[name] = running  # registered first: a failed start is stopped too
            running.start()
        return running

    def stop(self, name: str) -> None:
        server = self._servers.pop(name, None)
        if server is not None:
            server.stop()
            # Kept after the run (the working directory is not): warnings and tracebacks.
            logs = RESULTS_DIR / "logs"
            logs.mkdir(parents=True, exist_ok=True)
            with contextlib.suppress(OSError):
                shutil.copyfile(server.log_path, logs / server.log_path.name)

    def close(self) -> None:
        for name in list(self._servers):
            self.stop(name)

    def headers(self, **extra: str) -> dict[str, str]:
        return {"X-Tenant": self.seed.tenant_slug, **extra}

    def password_grants(self) -> list[Request]:
        """One password grant with the right password per seeded user that logins rotate over."""
        headers = self.headers(**{"Content-Type": FORM_TYPE})
        form = {"grant_type": "password", "password": self.seed.password}
        return [
            Request(
                "POST",
                TOKEN_PATH,
                headers,
                urllib.parse.urlencode({**form, "username": user.email}),
            )
            for user in self.seed.users[: self.options.login_users]
        ]

    def measure(
        self,
        label: str,
        server: UvicornServer,
        requests: Sequence[Request],
        connections: int,
        *,
        script: str = "replay.lua",
        environment: Mapping[str, str] | None = None,
        warmup_environment: Mapping[str, str] | None = None,
        prime: Request | None = None,
        quiet: bool = True,
    ) -> WrkResult:
        """A warm-up run (discarded), then the measured run, optionally under py-spy.

        `script` is a wrk script in lua/, given `environment` (`warmup_environment` for the
        warm-up, when the two runs need different data, such as refresh tokens that a run uses
        up). `prime` is the request sent alone first, `requests[0]` unless given. `quiet=False`
        measures at once, for a run beside load the scenario makes itself.
        """
        requests_file = write_requests(self.workdir / f"{label}.requests", requests)
        self._prime(label, server, prime or requests[0])

        def run(seconds: float, variables: Mapping[str, str] | None) -> WrkResult:
            return run_wrk(
                server.url, requests_file, seconds=seconds, connections=connections,
                threads=self.options.threads, script=script, environment=variables,
            )  # fmt: skip

        print(f"  {label}: {connections} connections, warm-up {self.options.warmup:.0f} s ...")
        if self.options.warmup > 0:
            warm = run(self.options.warmup, warmup_environment or environment)
            if warm.failed:
                self.notes.append(f"{label} warm-up had errors: {warm.error_summary()}")
        if quiet:
            self.wait_until_quiet(label)
        print(f"  {label}: measuring {self.options.duration:.0f} s ...")
        collections = gc_snapshot(server)
        with self._profiling(label, server), CpuMeter(server.pid, self.postmaster_pid) as meter:
            result = run(self.options.duration, environment)
        if cpu.available():
            result = dataclasses.replace(result, cpu=meter.usage(result.cpu_seconds))
        after = gc_snapshot(server) if collections is not None else None
        if collections is not None and after is not None:
            result = dataclasses.replace(result, gc=gcpauses.describe(collections, after))
        print(
            f"  {label}: {result.rps:.1f} req/s, p50 {result.p50_ms:.1f} ms, "
            f"p99 {result.p99_ms:.1f} ms, errors {result.error_summary()}"
        )
        if result.cpu is not None:
            print(f"  {label}: {result.cpu.describe(result.rps)}")
        if result.gc is not None:
            print(f"  {label}: {result.gc}")
        if result.failed:
            print(f"  {label}: server log tail:\n{server.log_tail(15)}")
        return result

    def _prime(self, label: str, server: UvicornServer, request: Request) -> None:
        """One request alone before the load, so that per-tenant caches are filled calmly.

        A cold enforcer cache under a burst can hold every pooled connection while the loader
        waits for one more; the benchmark measures the steady state, and says when priming fails.
        """
        status = send(server, request)
        if not 200 <= status < 300:
            self.notes.append(f"{label}: the priming request answered HTTP {status}")

    def wait_until_quiet(self, label: str) -> None:
        if self.options.quiet_wait <= 0 or not cpu.available():
            return
        waited = f"waited {self.options.quiet_wait:.0f} s"
        unwritten = cpu.wait_for_writeback(self.options.quiet_wait)
        if unwritten is not None:
            self._measuring_anyway(
                label,
                f"measured with {unwritten:.0f} MiB of page cache not yet written back ({waited})",
                f"{unwritten:.0f} MiB not yet written back",
            )
        busy = cpu.wait_until_quiet(self.options.quiet_wait)
        if busy is not None:
            self._measuring_anyway(
                label,
                f"other processes kept {busy:.2f} cores busy when the run started "
                f"({waited} for quiet)",
                f"machine still busy ({busy:.2f} cores)",
            )

    def _measuring_anyway(self, label: str, note: str, said: str) -> None:
        self.notes.append(f"{label}: {note}")
        print(f"  {label}: {said}, measuring anyway")

    @contextlib.contextmanager
    def _profiling(self, label: str, server: UvicornServer):  # type: ignore[no-untyped-def]
        py_spy = os.environ.get("BENCH_PY_SPY") or shutil.which("py-spy")
        if not self.options.profile:
            yield
            return
        if py_spy is None:
            self.notes.append("--profile asked, but py-spy is not on PATH nor in BENCH_PY_SPY")
            yield
            return
        profiles = RESULTS_DIR / "profiles"
        profiles.mkdir(parents=True, exist_ok=True)
        output = profiles / f"{label}.txt"
        recorder = subprocess.Popen(  # noqa: S603 - py-spy as configured, fixed arguments
            [py_spy, "record", "--pid", str(server.pid), "--format", "raw", "--rate", "200",
             "--threads", "--nonblocking", "--duration", str(max(1, round(self.options.duration))),
             "--output", str(output)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            yield
        finally:
            try:
                recorder.wait(timeout=30)
            except subprocess.TimeoutExpired:
                recorder.kill()
                recorder.wait()
        if output.exists():
            print(f"  {label}: profile (collapsed stacks) in {output}")
            print(profile_summary(output))


def profile_summary(path: Path, top: int = 12) -> str:
    """The functions where the server spent its samples (self time), from py-spy's raw output."""
    own: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = stack.split(";")
        own[frames[-1]] += int(count)
        total += int(count)
    if not total:
        return "    (no samples)"
    return "\n".join(
        f"    {100 * count / total:5.1f}%  {frame}" for frame, count in own.most_common(top)
    )


def send(server: UvicornServer, request: Request) -> int:
    """Send one request as wrk would; return the status."""
    return fetch(server, request)[0]


def fetch(server: UvicornServer, request: Request) -> tuple[int, bytes]:
    """Send one request as wrk would; return the status and the body."""
    outgoing = urllib.request.Request(  # noqa: S310 - loopback http
        server.url + request.path,
        data=request.body.encode() if request.body else None,
        headers=dict(request.headers),
        method=request.method,
    )
    try:
        with urllib.request.urlopen(outgoing, timeout=30) as answer:  # noqa: S310
            return int(answer.status), answer.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def gc_snapshot(server: UvicornServer) -> gcpauses.Snapshot | None:
    """The server's garbage-collector pauses so far; None for a server without `/metrics`."""
    status, body = fetch(server, Request("GET", "/metrics"))
    return gcpauses.parse(body.decode()) if status == 200 else None


def fetch_tokens(server: UvicornServer, tenant: str, email: str, password: str) -> dict[str, str]:
    """Log in through the password grant; the token response (access and refresh tokens)."""
    form = urllib.parse.urlencode(
        {"grant_type": "password", "username": email, "password": password}
    )
    headers = {"X-Tenant": tenant, "Content-Type": FORM_TYPE}
    status, body = fetch(server, Request("POST", TOKEN_PATH, headers, form))
    if status != 200:
        raise RuntimeError(f"the password grant for {email} answered HTTP {status}: {body[:200]!r}")
    tokens: dict[str, str] = json.loads(body)
    return tokens


def fetch_access_token(server: UvicornServer, tenant: str, email: str, password: str) -> str:
    return fetch_tokens(server, tenant, email, password)["access_token"]


def resident_memory_mib(pid: int) -> float | None:
    """The process's resident set (VmRSS) in MiB, or None where /proc does not say."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None
