"""The exception queue replayed over the default world's test window (the README's table).

One run in a fresh process: build the features, train the champion (test window: the last
40 trade dates), then `failcast backtest` over the settlement dates of those 40 days, on
point-in-time features: fails flagged by stage, median lead time, and what the fails a daily
queue of K trades holds cost (by their markets' regimes, and under the one CSDR-style schedule
failcast priced every market with before) beside a rules-only queue and the oracle's.

    python -m benchmarks.backtest [--data DIR] [--capacity K]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from rich.console import Console

from benchmarks._child import dataset, run_child
from benchmarks.training import DEFAULT_WORLD_TRADES
from core.runtime import quiet_libraries

_CHILD = """
import json, sys, time
from pathlib import Path
import pandas as pd
from features.build import build_features
from features.data.contract import read_dataset
from core.settings import Settings
from pipelines.reports.backtest import backtest
from training.train import TrainConfig, train
data, home, capacity = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
settings = Settings(home=home, feast_project="bench_backtest")
config = TrainConfig()
build_features(data, settings)
train(data, settings, config)
trades = read_dataset(data, ["trades"])["trades"]
first = sorted(trades["trade_date"].unique())[-config.test_days]
window = trades.loc[trades["trade_date"] >= first, "settlement_date"]
t0 = time.perf_counter()
result = backtest(data, window.min().date(), window.max().date(), capacity, settings)
out = result.to_dict()
out["seconds"] = time.perf_counter() - t0
print(json.dumps(out, default=str))
"""


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="reuse a default-world dataset")
    parser.add_argument("--capacity", type=int, default=50, help="queue size per date")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        data = dataset(args.data, Path(tmp), DEFAULT_WORLD_TRADES, console)
        out = run_child(_CHILD, data, Path(tmp) / "home", args.capacity)
    print(_markdown(out))


def _markdown(out: dict) -> str:
    """The README's tables."""
    pct = lambda v: "—" if v is None or v != v else f"{v:.0%}"  # noqa: E731
    lines = [
        f"Settlement dates {out['from']} to {out['to']} ({out['settlement_dates']} dates, "
        f"{out['trades']:,} trades, {out['fails']:,} fails), champion trained before them; "
        f"median lead time of a flagged fail: {out['median_lead_hours']:.1f} h; "
        f"backtest {out['seconds']:.0f} s.",
        "",
        "| Stage | Fails flagged by then | Trades flagged | Precision |",
        "|---|---|---|---|",
    ]
    for s in out["stages"]:
        lines.append(
            f"| {s['stage']} | {pct(s['fails_flagged_by_then'])} | {s['flagged_trades']:,} | "
            f"{pct(s['precision'])} |"
        )
    lines += [
        "",
        f"| Daily queue of {out['capacity']} (ranked on ISD-1) | Fails caught | Share | "
        "Cost caught by market regime (USD) | Share | One CSDR-style penalty caught | Share |",
        "|---|---|---|---|---|---|---|",
    ]
    for q in out["queues"]:
        lines.append(
            f"| {q['queue']} | {q['fails_caught']:,} | {pct(q['fail_share'])} | "
            f"{q['cost_caught_usd']:,.0f} | {pct(q['cost_share'])} | "
            f"{q['penalty_caught']:,.0f} | {pct(q['penalty_share'])} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
