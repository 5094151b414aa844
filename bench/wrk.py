"""Running wrk with the harness's Lua scripts, and reading the JSON line their `done()` prints."""

import dataclasses
import json
import os
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bench.cpu import CpuUsage

LUA_DIR = Path(__file__).resolve().parent / "lua"
RESULT_MARKER = "BENCH_RESULT "


def not_2xx(statuses: Mapping[int, int]) -> list[str]:
    """`HTTP 503 x2` for each status that was not 2xx, in order; status 0 is a request that got
    no answer (a socket error or a timeout)."""
    return [
        f"HTTP {status} x{count}" if status else f"socket error or timeout x{count}"
        for status, count in sorted(statuses.items())
        if not 200 <= status < 300
    ]


@dataclass(frozen=True)
class Request:
    """One request a wrk script replays; the body, when any, is sent as is."""

    method: str
    path: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str = ""

    def line(self) -> str:
        parts = [self.method, self.path, self.body]
        parts += [f"{name}: {value}" for name, value in self.headers.items()]
        if any("\t" in part or "\n" in part for part in parts):
            raise ValueError(f"tabs and newlines cannot be replayed: {self}")
        return "\t".join(parts)


@dataclass(frozen=True)
class WrkResult:
    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    mean_ms: float
    socket_errors: dict[str, int]
    statuses: dict[int, int]
    cpu_seconds: float = 0.0  # wrk's own user + system time
    cpu: CpuUsage | None = None  # who used the cores during the run, when measured
    gc: str | None = None  # the server's garbage collections during the run, when it reports them

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)

    @property
    def error_count(self) -> int:
        """Socket errors and timeouts, plus every response that was not 2xx."""
        socket = sum(v for k, v in self.socket_errors.items() if k != "status")
        return socket + self.non_2xx

    @property
    def failed(self) -> bool:
        """Any error, or nothing answered at all: the run cannot stand for the scenario."""
        return self.error_count > 0 or self.requests == 0

    def error_summary(self) -> str:
        if self.requests == 0:
            return "no responses"
        if not self.error_count:
            return "0"
        parts = [f"{k} {v}" for k, v in self.socket_errors.items() if k != "status" and v]
        parts += not_2xx(self.statuses)
        return f"{self.error_count} ({', '.join(parts)})"

    @classmethod
    def parse(cls, output: str) -> "WrkResult":
        for line in output.splitlines():
            if line.startswith(RESULT_MARKER):
                data = json.loads(line.removeprefix(RESULT_MARKER))
                return cls(
                    requests=data["requests"],
                    duration_s=data["duration_s"],
                    rps=data["rps"],
                    p50_ms=data["p50_ms"],
                    p90_ms=data["p90_ms"],
                    p99_ms=data["p99_ms"],
                    max_ms=data["max_ms"],
                    mean_ms=data["mean_ms"],
                    socket_errors=dict(data["errors"]),
                    statuses={int(k): v for k, v in data["statuses"].items()},
                )
        raise RuntimeError(f"wrk printed no {RESULT_MARKER.strip()} line:\n{output}")


def wrk_binary() -> str:
    found = shutil.which("wrk")
    if found is None:
        raise RuntimeError("wrk is not on PATH: `apt-get install wrk` (or run `make bench`)")
    return found


def wrk_version() -> str:
    # wrk has no --version; its usage text starts with the version line.
    completed = subprocess.run(  # noqa: S603 - a fixed binary, no shell
        [wrk_binary(), "--version"], capture_output=True, text=True, check=False, timeout=10
    )
    first = (completed.stdout or completed.stderr).splitlines()
    return first[0].split(" Copyright")[0] if first else "unknown"


def write_requests(path: Path, requests: Sequence[Request]) -> Path:
    path.write_text("".join(request.line() + "\n" for request in requests), encoding="utf-8")
    return path


def run_wrk(
    url: str,
    requests_file: Path,
    *,
    seconds: float,
    connections: int,
    threads: int = 1,
    timeout_s: float = 10.0,
    script: str = "replay.lua",
    environment: Mapping[str, str] | None = None,
) -> WrkResult:
    """One wrk run of `script` over `requests_file` against `url`; wrk stops by itself after
    `seconds`. `environment` adds variables for the script (files of its own, such as the
    refresh-token chains); BENCH_WRK_THREADS tells it how many threads share them."""
    threads = min(threads, connections)
    variables = {**os.environ, **(environment or {})}
    variables["BENCH_REQUESTS"] = str(requests_file)
    variables["BENCH_LUA_DIR"] = str(LUA_DIR)
    variables["BENCH_WRK_THREADS"] = str(threads)
    command = [
        wrk_binary(),
        f"--threads={threads}",
        f"--connections={connections}",
        f"--duration={max(1, round(seconds))}s",
        f"--timeout={max(1, round(timeout_s))}s",
        "--latency",
        f"--script={LUA_DIR / script}",
        url,
    ]
    output = requests_file.with_suffix(".wrk-output")
    with output.open("w+", encoding="utf-8") as sink:
        process = subprocess.Popen(  # noqa: S603 - a fixed binary and our own arguments
            command, stdout=sink, stderr=subprocess.STDOUT, env=variables
        )
        try:
            # wait4 rather than wait: it also tells how much CPU wrk took from the server's cores.
            _, status, usage = os.wait4(process.pid, 0)
            process.returncode = os.waitstatus_to_exitcode(status)
        finally:
            if process.returncode is None:
                process.kill()
                process.wait()
        sink.seek(0)
        text = sink.read()
    if process.returncode != 0:
        raise RuntimeError(f"wrk failed ({process.returncode}):\n{text}")
    return dataclasses.replace(WrkResult.parse(text), cpu_seconds=usage.ru_utime + usage.ru_stime)
