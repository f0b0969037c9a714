"""`failcast` reads its commands without the serving stack: an ops user's `failcast queue` or
`failcast --help` waited 9 s on Feast, LightGBM and MLflow being imported by the command line
before any command ran. The commands that train, score or replay import them when they run."""

from __future__ import annotations

from tests.code.test_service_import import probe

_PROBE = """
import json, sys
import typer
from pipelines.cli import app
group = typer.main.get_command(app)
print(json.dumps({
    "commands": sorted(group.commands),
    "loaded": sorted(m for m in json.loads(sys.argv[1]) if m in sys.modules),
}))
"""


def test_the_command_line_is_read_without_the_serving_stack() -> None:
    found = probe(_PROBE)
    assert found["loaded"] == []
    # and every command is there all the same
    assert found["commands"] == [
        "audit",
        "backtest",
        "costs",
        "data",
        "db",
        "demo",
        "evaluate",
        "events",
        "features",
        "ingest",
        "queue",
        "report",
        "serve",
        "simulate",
        "train",
        "users",
        "validate",
    ]
