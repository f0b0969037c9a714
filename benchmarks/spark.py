"""The Spark offline store against the embedded DuckDB one on the same world: every stage of
`failcast features build` and `failcast train` run once per engine in its own process and
project home, then the training matrices and every metric compared.

Spark runs at FAILCAST_SPARK_MASTER (default local[2]): on this machine the figures say what
the Spark path costs, not what a cluster gains. Target: identical features and metrics.

    python -m benchmarks.spark [--data DIR] [--trades N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from benchmarks._child import dataset, run_child
from core.runtime import quiet_libraries

_RUN = """
import json, resource, sys, time
from pathlib import Path
import numpy as np
from core.runtime import quiet_libraries
quiet_libraries()
from core.settings import Settings
from features.build import build_features
from features.data.contract import read_dataset
from features.reference import Reference
from features.retrieval import training_matrix
from features.store import open_store
from training.train import TRAINING_TABLES, TrainConfig, train
data, home, engine = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
settings = Settings(home=home, feast_project="bench_" + engine, offline_store=engine)
t0 = time.perf_counter(); build_features(data, settings); build = time.perf_counter() - t0
with open_store(settings) as store:
    t0 = time.perf_counter()
    m = training_matrix(store, Reference.load(settings), read_dataset(data, TRAINING_TABLES))
    retrieval = time.perf_counter() - t0
np.save(home / "matrix.npy", m.x)
t0 = time.perf_counter(); result = train(data, settings, TrainConfig())
fit = time.perf_counter() - t0
print(json.dumps({"build_s": build, "retrieval_s": retrieval, "train_s": fit,
                  "rows": len(m.x), "table": json.loads(result.table.to_json(orient="records")),
                  "peak_gb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20}))
"""


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, help="reuse a dataset")
    parser.add_argument("--trades", type=int, default=100_000, help="trades of the world")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        data = dataset(args.data, Path(tmp), args.trades, console)
        out = {}
        for engine in ("duckdb", "spark"):
            console.print(f"{engine}: build, retrieve, train")
            out[engine] = run_child(_RUN, data, Path(tmp) / engine, engine)
        same_matrix = np.array_equal(
            np.load(Path(tmp) / "duckdb" / "matrix.npy"),
            np.load(Path(tmp) / "spark" / "matrix.npy"),
            equal_nan=True,
        )
    table = Table(title=f"DuckDB and Spark on {out['duckdb']['rows']:,} snapshots")
    for col in ("figure", "duckdb", "spark"):
        table.add_column(col)
    for name, key in (
        ("feature build, materialisation included (s)", "build_s"),
        ("training matrix retrieval (s)", "retrieval_s"),
        ("failcast train (s)", "train_s"),
        ("peak memory (GB)", "peak_gb"),
    ):
        table.add_row(name, f"{out['duckdb'][key]:.1f}", f"{out['spark'][key]:.1f}")
    same_metrics = json.dumps(out["duckdb"]["table"]) == json.dumps(out["spark"]["table"])
    table.add_row("training matrix identical, bit for bit", "", "✓" if same_matrix else "✗")
    table.add_row("every metric of `failcast train` identical", "", "✓" if same_metrics else "✗")
    console.print(table)


if __name__ == "__main__":
    main()
