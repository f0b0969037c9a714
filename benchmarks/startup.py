"""How long the service takes to be ready: what every start, and every restart after a crash,
makes the ops systems wait for.

    python -m benchmarks.startup --home DIR [--runs 3]

``--home``: a project home holding a feature build and a champion (``./.failcast`` after
``make demo``). Measured in one run, each figure the median of ``--runs``:
1. the import of the service module alone, in a fresh interpreter: what the ``bentoml serve``
   process pays to read the service's definition before it starts any worker, beside the
   import of the whole serving stack (the scorer) as the reference;
2. ``failcast serve``'s service from launch to ``/readyz`` answering 200, on one worker and on
   two (``serving.api.server.start_server``, as the tests and the demo start it).

Each figure twice, the two alternating: with the bytecode ``make`` installs with the packages,
and compiled from source in every process (Python pointed at an empty bytecode cache and
told not to write one: a virtualenv installed without compiling, where
PYTHONDONTWRITEBYTECODE is set).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from unittest.mock import patch

from rich.console import Console
from rich.table import Table

from benchmarks._child import run_child
from core.runtime import quiet_libraries
from core.settings import Settings
from serving.api.server import start_server

IMPORTS = {
    "the service's definition": "serving.api.service",
    "the serving stack (reference)": "serving.scoring.scorer",
}


def _import_seconds(module: str, env: dict[str, str]) -> float:
    start = time.perf_counter()
    run_child(f"import {module}", env=env)
    return time.perf_counter() - start


def _ready_seconds(settings: Settings, workers: int, env: dict[str, str]) -> float:
    start = time.perf_counter()
    with patch.dict(os.environ, env):  # what the service's processes inherit
        server = start_server(settings.model_copy(update={"serve_workers": workers}))
    ready = time.perf_counter() - start
    server.stop()
    return ready


def _alternating(
    runs: int, measure: Callable[[dict[str, str]], float], source: dict[str, str]
) -> tuple[list[float], list[float]]:
    """``runs`` of ``measure`` with the installed bytecode and from source, one after the
    other: the host's drift falls on both alike."""
    installed: list[float] = []
    compiled: list[float] = []
    for _ in range(runs):
        installed.append(measure({}))
        compiled.append(measure(source))
    return installed, compiled


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, required=True, help="project home with a champion")
    parser.add_argument("--runs", type=int, default=3, help="runs per figure (the median)")
    args = parser.parse_args()
    settings = Settings(home=args.home)
    console = Console()
    table = Table(title=f"Start-up, median of {args.runs} runs")
    table.add_column("what")
    table.add_column("bytecode installed (s)", justify="right")
    table.add_column("compiled from source (s)", justify="right")
    table.add_column("installed / source", justify="right")
    medians: dict[str, float] = {}  # what -> the installed bytecode's median
    with tempfile.TemporaryDirectory(prefix="no-bytecode-") as empty:
        source = {"PYTHONPYCACHEPREFIX": empty, "PYTHONDONTWRITEBYTECODE": "1"}
        measures: dict[str, Callable[[dict[str, str]], float]] = {
            f"import {name}": partial(_import_seconds, module) for name, module in IMPORTS.items()
        }
        for workers in (1, 2):
            measures[f"launch to ready, {workers} worker(s)"] = partial(
                _ready_seconds, settings, workers
            )
        for what, measure in measures.items():
            with console.status(f"{what} ..."):
                installed, compiled = _alternating(args.runs, measure, source)
            ours, theirs = statistics.median(installed), statistics.median(compiled)
            medians[what] = ours
            table.add_row(
                what,
                f"{ours:.1f} ({_runs(installed)})",
                f"{theirs:.1f} ({_runs(compiled)})",
                f"{ours / theirs:.2f}",
            )
    console.print(table)
    definition, stack = (medians[f"import {name}"] for name in IMPORTS)
    ratio = definition / stack
    console.print(f"the service's definition imports in {ratio:.2f} × the stack's time")


def _runs(runs: list[float]) -> str:
    return ", ".join(f"{r:.1f}" for r in runs)


if __name__ == "__main__":
    main()
