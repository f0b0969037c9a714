"""Simulator speed and memory at scale: 1M trades with truth (targets: <= 60 s, <= 4 GB).

Each run is a fresh process so that its peak resident memory is its own. The reference, measured
in the same run, is numpy drawing as many random numbers as the simulator's replicas consume:
the floor any vectorised simulator of this size sits on.

    python -m benchmarks.simulator [--repeats 3] [--trades 1000000]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile

from rich.console import Console
from rich.table import Table

from benchmarks._child import DAYS, run_child
from core.runtime import quiet_libraries

TARGET_SECONDS = 60.0
TARGET_GB = 4.0

_CHILD = """
import json, resource, sys, time
from pathlib import Path
from features.data.contract import write_dataset
from features.data.simulator import SimulationConfig, simulate
days, per_day, out = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
t0 = time.perf_counter()
data = simulate(SimulationConfig(days=days, trades_per_day=per_day))
t1 = time.perf_counter()
write_dataset(data, out)
t2 = time.perf_counter()
print(json.dumps({"trades": len(data["trades"]), "simulate_s": t1 - t0, "write_s": t2 - t1,
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

_REFERENCE = """
import json, sys, time
import numpy as np
n, replicas = int(sys.argv[1]), int(sys.argv[2])
rng = np.random.default_rng(0)
t0 = time.perf_counter()
for _ in range(replicas + 1):
    for _ in range(12):  # random draws per trade per path
        rng.random(n)
print(json.dumps({"reference_s": time.perf_counter() - t0}))
"""


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trades", type=int, default=1_000_000)
    args = parser.parse_args()
    per_day = -(-args.trades // int(DAYS * 0.985))  # markets' holidays drop ~1.5% of draws
    console = Console()
    runs, refs = [], []
    for i in range(args.repeats):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(run_child(_CHILD, DAYS, per_day, f"{tmp}/world"))
        refs.append(run_child(_REFERENCE, runs[-1]["trades"], 32)["reference_s"])
        console.print(f"run {i + 1}/{args.repeats}: {runs[-1]}")
    med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
    ref = statistics.median(refs)
    total = med["simulate_s"] + med["write_s"]
    table = Table(
        title=f"Simulator, {med['trades']:,.0f} trades with truth (median of {args.repeats})"
    )
    for col in ("figure", "value", "target"):
        table.add_column(col)
    table.add_row("simulate (s)", f"{med['simulate_s']:.1f}", "")
    table.add_row("write Parquet (s)", f"{med['write_s']:.1f}", "")
    table.add_row(
        "simulate + write (s)",
        f"{total:.1f}",
        f"<= {TARGET_SECONDS:.0f} {'✓' if total <= TARGET_SECONDS else '✗'}",
    )
    table.add_row(
        "peak memory (GB)",
        f"{med['peak_gb']:.2f}",
        f"<= {TARGET_GB:.0f} {'✓' if med['peak_gb'] <= TARGET_GB else '✗'}",
    )
    table.add_row("throughput (trades/s)", f"{med['trades'] / total:,.0f}", "")
    table.add_row("numpy RNG floor, same draws (s)", f"{ref:.1f}", "reference")
    table.add_row("simulate / RNG floor", f"{med['simulate_s'] / ref:.1f}x", "")
    console.print(table)


if __name__ == "__main__":
    main()
