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
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

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


def _import_seconds(module: str) -> float:
    start = time.perf_counter()
    run_child(f"import {module}")
    return time.perf_counter() - start


def _ready_seconds(settings: Settings, workers: int) -> float:
    start = time.perf_counter()
    server = start_server(settings.model_copy(update={"serve_workers": workers}))
    ready = time.perf_counter() - start
    server.stop()
    return ready


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
    table.add_column("seconds", justify="right")
    table.add_column("runs", justify="right")
    imports: dict[str, float] = {}
    for name, module in IMPORTS.items():
        runs = [_import_seconds(module) for _ in range(args.runs)]
        imports[name] = statistics.median(runs)
        table.add_row(f"import {name}", f"{imports[name]:.1f}", _runs(runs))
    for workers in (1, 2):
        with console.status(f"starting the service on {workers} worker(s) ..."):
            runs = [_ready_seconds(settings, workers) for _ in range(args.runs)]
        table.add_row(
            f"launch to ready, {workers} worker(s)", f"{statistics.median(runs):.1f}", _runs(runs)
        )
    console.print(table)
    definition, stack = imports.values()
    ratio = definition / stack
    console.print(f"the service's definition imports in {ratio:.2f} × the stack's time")


def _runs(runs: list[float]) -> str:
    return ", ".join(f"{r:.1f}" for r in runs)


if __name__ == "__main__":
    main()
