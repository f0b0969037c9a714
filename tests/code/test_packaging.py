"""How the service is packaged and started: the Bento's python packages are the project's runtime
dependencies, and every way of starting it binds loopback unless configured otherwise."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def test_bentofile_packages_equal_the_project_dependencies() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    bento = yaml.safe_load((ROOT / "bentofile.yaml").read_text())["python"]["packages"]
    assert sorted(bento) == sorted(project)


def test_every_way_of_starting_the_service_binds_loopback_by_default() -> None:
    """`bentoml serve` and a built Bento read the service's own BentoML configuration (its
    default would be 0.0.0.0); `failcast serve` and the test server pass the host."""
    from serving.api.server import server_command
    from serving.api.service import Failcast

    service: Any = Failcast  # a bentoml Service: its decorator is untyped
    assert service.config["http"]["host"] == "127.0.0.1"
    command = server_command(3000)
    assert command[command.index("--host") + 1] == "127.0.0.1"
