"""Benchmarks run their measured work in fresh processes: peak memory and warm-up are then
each run's own. Shared helpers: run a child, and simulate the dataset a benchmark needs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from rich.console import Console

__all__ = ["DAYS", "dataset", "run_child", "written_whole"]

DAYS = 250
_SIMULATE = """
import sys
from pathlib import Path
from features.data.contract import write_dataset
from features.data.simulator import SimulationConfig, simulate
write_dataset(simulate(SimulationConfig(days=int(sys.argv[1]), trades_per_day=int(sys.argv[2]))),
              Path(sys.argv[3]))
"""


def run_child(code: str, *args: object, env: dict[str, str] | None = None) -> dict:
    """Run ``code`` in a fresh interpreter (``env`` on top of this one's environment); its
    last stdout line is a JSON object."""
    done = subprocess.run(
        [sys.executable, "-c", code, *map(str, args)],
        capture_output=True,
        text=True,
        env=None if env is None else os.environ | env,
    )
    if done.returncode:
        raise RuntimeError(done.stderr[-3000:])
    lines = done.stdout.strip().splitlines()
    return json.loads(lines[-1]) if lines else {}


def written_whole(out: Path, write: Callable[[Path], dict]) -> dict:
    """``write(directory)`` into a scratch directory beside ``out``, moved to ``out`` once it
    returns: a run stopped midway leaves no partial world that a later run would take for a
    whole one. Returns what ``write`` returned."""
    partial = out.with_name(f".{out.name}.partial")
    shutil.rmtree(partial, ignore_errors=True)
    done = write(partial)
    partial.rename(out)
    return done


def dataset(given: Path | None, scratch: Path, trades: int, console: Console) -> Path:
    """``given``, or a world of about ``trades`` trades over DAYS simulated into ``scratch``."""
    if given is not None:
        return given
    out = scratch / "world"
    per_day = -(-trades // int(DAYS * 0.985))  # markets' holidays drop ~1.5% of draws
    console.print(f"simulating ~{trades:,} trades into {out}")
    run_child(_SIMULATE, DAYS, per_day, out)
    return out
