"""Run the scoring service as a real BentoML server in a child process: for `failcast serve`,
the demo, the tests and the benchmark."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from core.errors import ServerFailed
from core.settings import Settings

__all__ = ["free_port", "running_server", "server_command", "server_env"]

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
    for name, value in settings.model_dump(exclude_none=True).items():
        env[f"FAILCAST_{name.upper()}"] = str(value)
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
        yield url
    finally:
        _stop(process)


def _wait_ready(process: subprocess.Popen[bytes], url: str, timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailed(f"the service exited with {process.returncode}:\n{_tail(log)}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise ServerFailed(f"the service was not ready after {timeout:.0f} s:\n{_tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def _tail(log: Path, lines: int = 40) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
