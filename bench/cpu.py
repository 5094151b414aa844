"""Who used the cores during a measured run: the server, PostgreSQL, wrk, and everything else.

On a 2-core machine the load generator and the database share the cores with the server, and
other work on the machine skews every figure; these numbers say how much, per run. Linux only
(/proc); elsewhere the figures are left out.
"""

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
PROC = Path("/proc")


def _stat_fields(pid: int, thread: int | None = None) -> list[str] | None:
    path = (
        PROC / str(pid) / "stat"
        if thread is None
        else PROC / str(pid) / "task" / str(thread) / "stat"
    )
    try:
        text = path.read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses; the rest follows the last ')'.
    return text[text.rindex(")") + 2 :].split()


def process_cpu_seconds(pid: int) -> float:
    """User plus system time of a process, all its threads included; 0 when it is gone."""
    return _own_seconds(_stat_fields(pid))


def main_thread_cpu_seconds(pid: int) -> float:
    """User plus system time of a process's main thread alone: a uvicorn worker's event loop
    (its other threads hash passwords or run blocking calls); 0 when it is gone."""
    return _own_seconds(_stat_fields(pid, thread=pid))  # the main thread's id is the process's


def _own_seconds(fields: list[str] | None) -> float:
    if fields is None:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / _TICKS  # utime, stime (fields 14, 15)


def server_tree_cpu_seconds(parent: int) -> float:
    """CPU seconds of a server process and of all its children, live or exited (PostgreSQL).

    A postmaster forks a backend per connection and reaps it when the connection closes; reaped
    children's time is added to the parent's cutime and cstime, so a backend that lives through
    only part of the run is counted too (a connection pool that churns makes many such).
    """
    fields = _stat_fields(parent)
    if fields is None:
        return 0.0
    ticks = sum(int(value) for value in fields[11:15])  # utime, stime, cutime, cstime
    for entry in PROC.iterdir():
        if entry.name.isdigit():
            child = _stat_fields(int(entry.name))
            if child is not None and int(child[1]) == parent:
                ticks += int(child[11]) + int(child[12])
    return ticks / _TICKS


def machine_busy_seconds() -> float:
    """CPU seconds spent busy by the whole machine since boot, over all cores."""
    values = [int(v) for v in (PROC / "stat").read_text().splitlines()[0].split()[1:9]]
    idle = values[3] + values[4]  # idle, iowait
    return (sum(values) - idle) / _TICKS


def available() -> bool:
    return (PROC / "stat").exists()


@dataclass(frozen=True)
class CpuUsage:
    """Average cores busy over a run, by whom."""

    server: float
    event_loop: float  # the server's main thread, part of `server`
    postgres: float | None
    wrk: float
    machine: float

    @property
    def other(self) -> float:
        return max(0.0, self.machine - self.server - (self.postgres or 0.0) - self.wrk)

    def describe(self, rps: float) -> str:
        cores = os.cpu_count() or 1
        postgres = f"{self.postgres:.2f}" if self.postgres is not None else "n/a"
        # CPU per request barely moves when other work slows the run down, unlike req/s.
        per_request = ""
        if rps:
            per_request = (
                f" = {1000 * self.server / rps:.2f} ms per request"
                f" ({1000 * self.event_loop / rps:.2f} ms of it in the event loop's thread)"
            )
        return (
            f"CPU in cores (of {cores}): server {self.server:.2f}{per_request}, "
            f"PostgreSQL {postgres}, wrk {self.wrk:.2f}, other processes {self.other:.2f}"
        )


class CpuMeter:
    def __init__(self, server_pid: int, postmaster_pid: int | None) -> None:
        self.server_pid = server_pid
        self.postmaster_pid = postmaster_pid

    def __enter__(self) -> "CpuMeter":
        self._wall = time.monotonic()
        self._machine = machine_busy_seconds()
        self._server = process_cpu_seconds(self.server_pid)
        self._event_loop = main_thread_cpu_seconds(self.server_pid)
        self._postgres = (
            server_tree_cpu_seconds(self.postmaster_pid) if self.postmaster_pid else 0.0
        )
        return self

    def __exit__(self, *_: object) -> None:
        self._elapsed = time.monotonic() - self._wall
        self._machine_used = machine_busy_seconds() - self._machine
        self._server_used = process_cpu_seconds(self.server_pid) - self._server
        self._event_loop_used = main_thread_cpu_seconds(self.server_pid) - self._event_loop
        self._postgres_used: float | None = None
        if self.postmaster_pid:
            self._postgres_used = server_tree_cpu_seconds(self.postmaster_pid) - self._postgres

    def usage(self, wrk_cpu_seconds: float) -> CpuUsage:
        elapsed = self._elapsed or 1.0
        postgres = self._postgres_used
        return CpuUsage(
            server=self._server_used / elapsed,
            event_loop=self._event_loop_used / elapsed,
            postgres=postgres / elapsed if postgres is not None else None,
            wrk=wrk_cpu_seconds / elapsed,
            machine=self._machine_used / elapsed,
        )


def wait_until_quiet(max_wait_s: float, busy_cores: float = 0.3) -> float | None:
    """Wait (at most `max_wait_s`) until the machine is nearly idle for a second.

    Returns the busy cores last seen when the wait timed out, None when the machine got quiet.
    Our own servers are idle between runs, so what is busy here is someone else's work.
    """

    def busy_over_a_second() -> float:
        start = machine_busy_seconds()
        time.sleep(1.0)
        return machine_busy_seconds() - start

    return _wait_until_at_most(busy_over_a_second, busy_cores, max_wait_s, pause_s=0.0)


def unwritten_mib() -> float | None:
    """Dirty and under-writeback page cache, in MiB (/proc/meminfo); None where unreadable."""
    try:
        lines = Path("/proc/meminfo").read_text().splitlines()
    except OSError:
        return None
    kib = 0
    for line in lines:
        name, _, value = line.partition(":")
        if name in ("Dirty", "Writeback"):
            kib += int(value.split()[0])
    return kib / 1024


def wait_for_writeback(max_wait_s: float, limit_mib: float = 64.0) -> float | None:
    """Wait (at most `max_wait_s`) until the kernel has written back all but `limit_mib` of dirty
    pages: after bulk writes (provisioning thousands of tenants), a database that must evict a
    dirty buffer while the kernel throttles writers stalls for seconds. Returns the MiB still
    unwritten when the wait timed out, None otherwise."""
    return _wait_until_at_most(unwritten_mib, limit_mib, max_wait_s, pause_s=1.0)


def _wait_until_at_most(
    sample: Callable[[], float | None], limit: float, max_wait_s: float, *, pause_s: float
) -> float | None:
    """Sample until the value is at most `limit` (or unreadable: None), pausing `pause_s` between
    samples; after `max_wait_s`, give up and return the last value."""
    deadline = time.monotonic() + max_wait_s
    while True:
        value = sample()
        if value is None or value <= limit:
            return None
        if time.monotonic() >= deadline:
            return value
        time.sleep(pause_s)
