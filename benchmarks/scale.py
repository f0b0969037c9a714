"""failcast end to end at growing sizes: time and peak memory per stage, and how they grow.

    python -m benchmarks.scale [--sizes 1000000 3000000 10000000] [--days 250] [--keep DIR]
                               [--stages simulate validate build train backtest]
                               [--importance-rows 500000]

Per size, each stage in a fresh process (so each peak is its own): simulate and write the
world, validate it against the contract, build the features, train (retrieval of every
(trade, stage), LightGBM, baselines, evaluation, MLflow) and backtest the test window's
settlement dates. Trades per day are the size over ``--days``. Printed: seconds and peak GB per
stage and size, then the growth exponent of each stage's time between consecutive sizes
(log of the time ratio over log of the size ratio: 1 is linear), and training's own parts
(features, fit, evaluation, family importance, MLflow) with the trees the early-stopped
booster grew, and their exponents: which part grows faster than the trades. Targets for 10M
trades: peak
<= 16 GB, every exponent <= 1.1. Worlds and projects go under ``--keep`` (default: a
temporary directory removed afterwards); a world already there is reused, and so is a feature
build, so ``--stages`` can run a large size a few stages at a time. Training's family
importance samples ``--importance-rows`` of the test window (``failcast train
--importance-rows``; 0: every row), since at 10M it would otherwise predict millions of rows
once per family and repeat.
"""

from __future__ import annotations

import argparse
import itertools
import math
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks._child import run_child, written_whole
from core.runtime import quiet_libraries

TARGET_PEAK_GB, TARGET_EXPONENT = 16.0, 1.1
STAGES = ("simulate", "validate", "build", "train", "backtest")

_PRELUDE = """
import json, resource, sys, time
from pathlib import Path
from core.runtime import quiet_libraries
quiet_libraries()
extra = {}
def done(t0):
    print(json.dumps({"seconds": time.perf_counter() - t0,
                      "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
                      **extra}))
data, home, days, per_day = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
importance_rows = int(sys.argv[5]) or None
t0 = time.perf_counter()
"""
_CODE = {
    "simulate": """
from features.data.contract import write_dataset
from features.data.simulator import SimulationConfig, simulate
write_dataset(simulate(SimulationConfig(days=days, trades_per_day=per_day)), data)
""",
    "validate": """
from features.data.contract import read_dataset
read_dataset(data)
""",
    "build": """
from core.settings import Settings
from features.build import build_features
build_features(data, Settings(home=home, feast_project="scale"))
""",
    "train": """
from core.settings import Settings
from training.train import TrainConfig, train
settings = Settings(home=home, feast_project="scale")
from training.tracking import tracking_client
result = train(data, settings, TrainConfig(importance_rows=importance_rows))
run = tracking_client(settings).get_run(result.run_id)
extra = {"parts": result.seconds, "trees": int(run.data.params["trees"])}
""",
    "backtest": """
from core.settings import Settings
from features.data.contract import read_dataset
from pipelines.reports.backtest import backtest
from training.train import TrainConfig
trades = read_dataset(data, ["trades"])["trades"]
first = sorted(trades["trade_date"].unique())[-TrainConfig().test_days]
window = trades.loc[trades["trade_date"] >= first, "settlement_date"]
start, end = window.min().date(), window.max().date()
del trades, window  # the backtest's peak is its own
backtest(data, start, end, 50, Settings(home=home, feast_project="scale"))
""",
}


def exponent(small: tuple[int, float], large: tuple[int, float]) -> float:
    """How a time grows between two sizes: 1 is linear, 2 quadratic."""
    (n1, t1), (n2, t2) = small, large
    return math.log(t2 / t1) / math.log(n2 / n1)


def run_size(
    trades: int,
    days: int,
    root: Path,
    progress: Progress,
    stages: list[str],
    keep: bool,
    importance_rows: int = 0,
) -> dict[str, dict]:
    """The ``stages`` for one size, each in its own process; a world already simulated under
    ``root`` is reused (its simulate figures are then missing). The project (feature build,
    registry) is removed afterwards unless ``keep``."""
    per_day = -(-trades // int(days * 0.985))  # markets' holidays drop ~1.5% of draws
    data, home = root / f"world-{trades}", root / f"home-{trades}"
    out: dict[str, dict] = {}
    task = progress.add_task(f"{trades:,} trades", total=len(stages))
    for stage in (s for s in STAGES if s in stages):
        progress.update(task, description=f"{trades:,} trades: {stage}")
        if stage == "simulate" and data.exists():
            progress.advance(task)
            continue
        code = _PRELUDE + _CODE[stage] + "done(t0)\n"

        def run(world: Path, code: str = code) -> dict:
            return run_child(code, world, home, days, per_day, importance_rows)

        out[stage] = written_whole(data, run) if stage == "simulate" else run(data)
        progress.advance(task)
    if not keep:
        shutil.rmtree(home, ignore_errors=True)
    return out


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 3_000_000, 10_000_000])
    parser.add_argument("--days", type=int, default=250)
    parser.add_argument("--keep", type=Path, help="keep worlds and builds here (and reuse them)")
    parser.add_argument("--stages", nargs="+", choices=STAGES, default=list(STAGES))
    parser.add_argument("--importance-rows", type=int, default=500_000)
    args = parser.parse_args()
    console = Console()
    root = args.keep or Path(tempfile.mkdtemp(prefix="failcast-scale-"))
    results: dict[int, dict[str, dict]] = {}
    try:
        with Progress(console=console) as progress:
            for size in sorted(args.sizes):
                keep = args.keep is not None
                results[size] = run_size(
                    size, args.days, root, progress, args.stages, keep, args.importance_rows
                )
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)

    table = _table("seconds (peak GB) per stage", "trades", [*STAGES, "peak GB"])
    for size, stages in results.items():
        cells = [
            f"{s['seconds']:.0f} ({s['peak_gb']:.1f})" if (s := stages.get(st)) else "—"
            for st in STAGES
        ]
        peak = max((s["peak_gb"] for s in stages.values()), default=0.0)
        mark = "✓" if peak <= TARGET_PEAK_GB else "✗"
        table.add_row(f"{size:,}", *cells, f"{peak:.1f} {mark}")
    console.print(table)

    sizes = list(results)
    growth = _table(f"growth exponent of time (target <= {TARGET_EXPONENT})", "sizes", STAGES)
    for small, large in itertools.pairwise(sizes):
        cells = []
        for stage in STAGES:
            a, b = results[small].get(stage), results[large].get(stage)
            if not (a and b):
                cells.append("—")
                continue
            e = exponent((small, a["seconds"]), (large, b["seconds"]))
            cells.append(f"{e:.2f} {'✓' if e <= TARGET_EXPONENT else '✗'}")
        growth.add_row(f"{small:,} → {large:,}", *cells)
    console.print(growth)
    _train_parts(results, console)


def _table(title: str, first: str, columns: Sequence[str]) -> Table:
    """A table of ``first`` and then right-aligned ``columns``."""
    table = Table(title=title)
    table.add_column(first)
    for column in columns:
        table.add_column(column, justify="right")
    return table


def _train_parts(results: dict[int, dict[str, dict]], console: Console) -> None:
    """Training's own parts per size and how each grows: which of them is not linear."""
    trained = {size: s["train"] for size, s in results.items() if "parts" in s.get("train", {})}
    if not trained:
        return
    parts = [p for p in next(iter(trained.values()))["parts"] if p != "total"]
    table = _table(
        "training's parts: seconds per size, then growth exponents", "trades", [*parts, "trees"]
    )
    for size, t in trained.items():
        table.add_row(f"{size:,}", *(f"{t['parts'].get(p, 0):.0f}" for p in parts), str(t["trees"]))
    for small, large in itertools.pairwise(trained):
        a, b = trained[small]["parts"], trained[large]["parts"]
        cells = [
            f"{exponent((small, a[p]), (large, b[p])):.2f}" if a.get(p) and b.get(p) else "—"
            for p in parts
        ]
        table.add_row(f"{small:,} → {large:,}", *cells, "")
    console.print(table)


if __name__ == "__main__":
    main()
