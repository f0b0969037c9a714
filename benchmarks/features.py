"""Feature store at scale: build throughput on ~1M trades (target <= 120 s) and online
retrieval latency (1 and 100 trades) for SQLite and Redis.

Build runs are fresh processes (their peak memory is their own); the reference measured in
the same run is reading the dataset through the contract, the floor under any build. Online
latencies are measured on the full path (entity rows, request fields, get_online_features
with both on-demand views), Feast's part alone, and a bare one-feature get_online_features of
one entity as the reference.

    python -m benchmarks.features [--repeats 3] [--trades 1000000] [--data DIR]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks._child import dataset, run_child
from core.runtime import quiet_libraries

TARGET_BUILD_SECONDS = 120.0

_BUILD = """
import json, resource, sys, time
from pathlib import Path
from features.build import build_features
from features.data.contract import read_dataset
from core.settings import Settings
data, home = Path(sys.argv[1]), Path(sys.argv[2])
t0 = time.perf_counter(); read_dataset(data); reference = time.perf_counter() - t0
report = build_features(data, Settings(home=home, feast_project="bench"))
print(json.dumps({"trades": report.trades, "rows": sum(report.rows.values()),
                  "reference_s": reference, **{f"{k}_s": v for k, v in report.seconds.items()},
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""

_ONLINE = """
import json, sys, time
import numpy as np
import pandas as pd
from pathlib import Path
from features.build import materialize
from features.data.contract import read_dataset
from features.reference import Reference
from features.repo import definitions
from features.retrieval import OnlineRetriever, entity_frame, training_frame
from core.settings import Settings
from features.store import open_store

data, home, backend = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
settings = Settings(home=home, feast_project="bench", online_store=backend)
reference = Reference.load(settings)
horizon = int(reference.manifest["horizon_us"])
trades = read_dataset(data, ["trades", "instruments", "counterparties"])["trades"]
out = {}

def timed(fn, n):
    fn()  # warm: registry, python-mode transforms, connections
    laps = []
    for _ in range(n):
        t0 = time.perf_counter(); fn(); laps.append((time.perf_counter() - t0) * 1e3)
    return float(np.percentile(laps, 50)), float(np.percentile(laps, 99))

with open_store(settings) as store:
    if backend == "redis":  # same tables and registry layout, online rows into Redis
        store.apply(definitions(reference.directory).objects())
        t0 = time.perf_counter()
        materialize(store, pd.Timestamp(horizon, unit="us", tz="UTC").to_pydatetime())
        out["materialize_s"] = time.perf_counter() - t0
    rng = np.random.default_rng(0)
    one = trades.iloc[[int(rng.integers(len(trades)))]]
    hundred = trades.iloc[rng.integers(0, len(trades), 100)]
    cpty = one["counterparty_id"].iloc[0]
    out["bare_1"] = timed(lambda: store.get_online_features(
        features=["counterparty_history:cpty_fail_rate_7d"],
        entity_rows=[{"counterparty_id": cpty}]).to_dict(), 300)
    retriever = OnlineRetriever(store, reference)
    rows = entity_frame(one.reset_index(drop=True), reference, np.full(1, horizon))
    rows = rows.drop(columns="event_timestamp").to_dict("records")
    out["feast_1"] = timed(lambda: store.get_online_features(
        features=retriever.service, entity_rows=rows).to_dict(), 300)
    out["full_1"] = timed(lambda: retriever(one, np.full(1, horizon)), 300)
    out["full_100"] = timed(lambda: retriever(hundred, np.full(100, horizon)), 40)
    if backend == "sqlite":
        sample = read_dataset(data)
        sample["trades"] = trades.sample(50_000, random_state=1)
        t0 = time.perf_counter()
        frame = training_frame(store, reference, sample)
        out["historical_rows_per_s"] = len(frame) / (time.perf_counter() - t0)
    if backend == "redis":
        store.teardown()
print(json.dumps(out))
"""


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--data", type=Path, help="reuse a dataset instead of simulating one")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        data = dataset(args.data, Path(tmp), args.trades, console)
        builds = []
        for i in range(args.repeats):
            home = Path(tmp) / f"home{i}"
            builds.append(run_child(_BUILD, data, home))
            console.print(f"build {i + 1}/{args.repeats}: {builds[-1]}")
        online = {b: run_child(_ONLINE, data, home, b) for b in ("sqlite", "redis")}
        console.print(online)

    med = {k: statistics.median(r[k] for r in builds) for k in builds[0]}
    table = Table(title=f"Feature build, {med['trades']:,.0f} trades (median of {args.repeats})")
    for col in ("figure", "value", "target"):
        table.add_column(col)
    ok = "✓" if med["total_s"] <= TARGET_BUILD_SECONDS else "✗"
    table.add_row("build total (s)", f"{med['total_s']:.1f}", f"<= {TARGET_BUILD_SECONDS:.0f} {ok}")
    for part in ("read", "compute", "write", "apply_materialize"):
        table.add_row(f"  {part} (s)", f"{med[part + '_s']:.1f}", "")
    table.add_row("throughput (trades/s)", f"{med['trades'] / med['total_s']:,.0f}", "")
    table.add_row("feature rows written", f"{med['rows']:,.0f}", "")
    table.add_row("peak memory (GB)", f"{med['peak_gb']:.2f}", "")
    table.add_row("read dataset through contract (s)", f"{med['reference_s']:.1f}", "reference")
    table.add_row("build / read", f"{med['total_s'] / med['reference_s']:.1f}x", "")
    table.add_row(
        "historical retrieval (rows/s)", f"{online['sqlite']['historical_rows_per_s']:,.0f}", ""
    )
    console.print(table)

    lat = Table(title="Online retrieval latency, ms (p50 / p99)")
    for col in ("path", "SQLite", "Redis"):
        lat.add_column(col)
    for key, label in (
        ("bare_1", "bare get_online_features, 1 entity, 1 feature (reference)"),
        ("feast_1", "get_online_features, fail_model_v1, 1 prepared trade"),
        ("full_1", "OnlineRetriever, 1 trade (entity rows + request fields + Feast)"),
        ("full_100", "OnlineRetriever, 100 trades"),
    ):
        lat.add_row(label, *(f"{o[key][0]:.2f} / {o[key][1]:.2f}" for o in online.values()))
    console.print(lat)
    console.print(f"materialise into Redis: {online['redis']['materialize_s']:.1f} s")


if __name__ == "__main__":
    main()
