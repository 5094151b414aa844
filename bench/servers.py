"""ASGI apps served the way production serves them: uvicorn in a subprocess, one worker.

Each server runs in its own session (process group), so a Ctrl-C in the terminal reaches the
harness first, and the harness's cleanup stops the whole group.
"""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class UvicornServer:
    """`uvicorn <factory> --factory` on 127.0.0.1, uvloop and httptools, access log off."""

    def __init__(
        self,
        name: str,
        factory: str,
        environment: Mapping[str, str],
        *,
        log_dir: Path,
        ready_path: str = "/healthz",
        wrapper: Sequence[str] = (),
    ) -> None:
        self.name = name
        self.wrapper = list(wrapper)  # a command the server runs under, such as valgrind
        self.factory = factory
        self.environment = dict(environment)
        self.ready_path = ready_path
        self.log_path = log_dir / f"{name}.log"
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError(f"{self.name} is not running")
        return self.process.pid

    def start(self, timeout_s: float = 60.0) -> None:
        command = [
            *self.wrapper, sys.executable, "-m", "uvicorn", self.factory, "--factory",
            "--host", "127.0.0.1", "--port", str(self.port), "--workers", "1",
            "--loop", "uvloop", "--http", "httptools",
            "--no-access-log", "--log-level", "warning",
            "--timeout-graceful-shutdown", "5",
        ]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, fixed arguments
                command,
                cwd=REPOSITORY,
                env=self.environment,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._wait_ready(timeout_s)

    def _wait_ready(self, timeout_s: float) -> None:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited at start-up:\n{self.log_tail()}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                with urllib.request.urlopen(self.url + self.ready_path, timeout=2) as answer:  # noqa: S310 - loopback http
                    if answer.status == 200:
                        return
            time.sleep(0.2)
        raise RuntimeError(f"{self.name} not ready after {timeout_s:.0f} s:\n{self.log_tail()}")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def __enter__(self) -> "UvicornServer":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()
