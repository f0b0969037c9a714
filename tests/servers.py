"""Private servers for fault tests: a Redis and a PostgreSQL of the test's own, on spare
ports, that a test may kill and start again (never the shared ones on 6379 and 5432)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from serving.api.server import free_port

__all__ = ["PrivatePostgres", "PrivateRedis", "private_postgres", "private_redis"]


class PrivateRedis:
    """``redis-server`` on a spare port. ``persistent`` keeps an append-only file fsynced on
    every write, so a restart finds the data again (a Redis that went down and came back);
    without it a restart is an emptied store."""

    def __init__(self, directory: Path, persistent: bool = True) -> None:
        if shutil.which("redis-server") is None:
            pytest.skip("redis-server is not installed")
        self.directory, self.persistent = directory, persistent
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None
        directory.mkdir(parents=True, exist_ok=True)

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> None:
        command = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", ""]
        command += ["--dir", str(self.directory)]
        if self.persistent:
            command += ["--appendonly", "yes", "--appendfsync", "always"]
        command += ["--logfile", str(self.directory / "redis.log")]
        self.process = subprocess.Popen(command)
        self._wait(lambda: self.cli("PING") == "PONG", "start")

    def kill(self) -> None:
        """SIGKILL: the server is gone at once, connections refused."""
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
            self.process = None

    def cli(self, *command: str) -> str:
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), *command],
            capture_output=True,
            text=True,
            timeout=10,
        )
        return done.stdout.strip()

    def _wait(self, ready: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if ready():
                return
            time.sleep(0.05)
        raise RuntimeError(f"private redis-server on {self.port} did not {what}")


@contextmanager
def private_redis(directory: Path, persistent: bool = True) -> Iterator[PrivateRedis]:
    server = PrivateRedis(directory, persistent)
    server.start()
    try:
        yield server
    finally:
        server.kill()


def _pg_bin() -> Path:
    if shutil.which("pg_config") is None:
        pytest.skip("PostgreSQL's pg_config is not installed")
    done = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True, check=True)
    return Path(done.stdout.strip())


class PrivatePostgres:
    """A PostgreSQL cluster made by ``initdb`` in a directory of its own, run by ``pg_ctl`` as
    the ``postgres`` user (the server refuses to run as root)."""

    def __init__(self) -> None:
        self.bin = _pg_bin()
        self.port = free_port()
        # the postgres user must reach the directory: not under pytest's root-only tmp
        self.root = Path(tempfile.mkdtemp(prefix="failcast-pg-"))
        os.chmod(self.root, 0o755)
        self.data = self.root / "data"
        shutil.chown(self.root, "postgres", "postgres")
        self._as_postgres("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres")

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def _as_postgres(self, tool: str, *args: str) -> None:
        command = [str(self.bin / tool), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def start(self) -> None:
        options = f"-p {self.port} -c listen_addresses=127.0.0.1 -k {self.root}"
        self._as_postgres(
            "pg_ctl",
            "-D",
            str(self.data),
            "-o",
            options,
            "-l",
            str(self.root / "log"),
            "-w",
            "start",
        )

    def stop(self, mode: str = "immediate") -> None:
        """``immediate``: the server stops at once, as a crash would (it recovers on start)."""
        self._as_postgres("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def remove(self) -> None:
        with suppress(subprocess.CalledProcessError):  # not running
            self.stop()
        shutil.rmtree(self.root, ignore_errors=True)


@contextmanager
def private_postgres() -> Iterator[PrivatePostgres]:
    server = PrivatePostgres()
    server.start()
    try:
        yield server
    finally:
        server.remove()
