"""Run the scoring service as a real BentoML server in a child process: for `failcast serve`,
the demo, the tests and the benchmark."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil

from core.errors import ServerFailed
from core.settings import Settings

__all__ = [
    "Server",
    "free_port",
    "kill_tree",
    "running_server",
    "server_command",
    "server_env",
    "start_server",
]

SERVICE = "serving.api.service:Failcast"
SERVICE_NAME = "failcast"  # the name in @bentoml.service
_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def server_env(settings: Settings, **overrides: str) -> dict[str, str]:
    """The environment the service reads its settings from: the caller's without its own
    FAILCAST_* variables, ``settings`` as FAILCAST_* variables, BentoML's home under the
    project home, then ``overrides``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAILCAST_")}
    for name, value in settings.model_dump(mode="json", exclude_none=True).items():
        # what pydantic-settings reads back: JSON for a list, the value itself otherwise
        text = json.dumps(value) if isinstance(value, list | dict) else str(value)
        env[f"FAILCAST_{name.upper()}"] = text
    env["BENTOML_HOME"] = str(settings.bentoml_home)
    # BentoML's own configuration carries the worker count (the service reads no settings
    # at import, where BentoML would want it)
    options = env.get("BENTOML_CONFIG_OPTIONS", "")
    workers = f"services.{SERVICE_NAME}.workers={settings.serve_workers}"
    env["BENTOML_CONFIG_OPTIONS"] = f"{options} {workers}".strip()
    env.setdefault("BENTOML_DO_NOT_TRACK", "true")
    env.update(overrides)
    return env


def server_command(port: int, service: str = SERVICE) -> list[str]:
    return [
        sys.executable,
        "-m",
        "bentoml",
        "serve",
        service,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]


@dataclass
class Server:
    """A service started by ``start_server``: its launcher process, URL and log."""

    process: subprocess.Popen[bytes]
    url: str
    log: Path

    def stop(self) -> None:
        _stop(self.process)

    def kill(self) -> None:
        """SIGKILL the whole service, workers included, at once."""
        kill_tree(self.process.pid)
        self.process.wait()


def start_server(
    settings: Settings,
    port: int | None = None,
    service: str = SERVICE,
    timeout: float = 180.0,
    log: Path | None = None,
    **env: str,
) -> Server:
    """Start the service and wait until /readyz answers 200."""
    port = port or free_port()
    url = f"http://127.0.0.1:{port}"
    log = log or settings.home.expanduser() / "logs" / f"service-{port}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        process = subprocess.Popen(
            server_command(port, service),
            cwd=_ROOT,
            env=server_env(settings, **env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        _wait_ready(process, url, timeout, log)
    except BaseException:
        _stop(process)
        raise
    return Server(process, url, log)


@contextmanager
def running_server(
    settings: Settings,
    port: int | None = None,
    service: str = SERVICE,
    timeout: float = 180.0,
    log: Path | None = None,
    **env: str,
) -> Iterator[str]:
    """Start the service, wait until /readyz answers 200, yield its URL, stop it."""
    server = start_server(settings, port, service, timeout, log, **env)
    try:
        yield server.url
    finally:
        server.stop()


def _wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    said = "no answer"
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"the service exited with {process.returncode}:\n{_tail(log)}")
        try:
            ready = httpx.get(f"{url}/readyz", timeout=2)
            if ready.status_code == 200:
                return
            said = ready.text
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise ServerFailed(f"the service was not ready after {timeout:.0f} s ({said}):\n{_tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM to the server (its arbiter stops the workers, which store what is pending),
    then SIGKILL to anything of its tree still there after 20 s. BentoML's workers run in
    sessions of their own, so the tree is taken before the stop, by parentage."""
    tree = _tree(process.pid)
    if process.poll() is None:
        process.terminate()
        with suppress(subprocess.TimeoutExpired):
            process.wait(timeout=20)
    _, alive = psutil.wait_procs(tree, timeout=5)
    kill_tree(process.pid, alive)
    if process.poll() is None:
        process.wait()


def _tree(pid: int) -> list[psutil.Process]:
    try:
        root = psutil.Process(pid)
        return [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return []


def kill_tree(pid: int, known: list[psutil.Process] | None = None) -> None:
    """SIGKILL a process and every descendant at once (what a crash of the machine does to
    the service); ``known`` adds processes found earlier that may have been reparented."""
    victims = {p.pid: p for p in [*(known or []), *_tree(pid)]}
    for victim in victims.values():
        with suppress(psutil.NoSuchProcess):
            victim.kill()
    psutil.wait_procs(list(victims.values()), timeout=10)


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
