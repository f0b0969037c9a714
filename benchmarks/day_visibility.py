"""The model against the oracle at execution, by how much of the counterparty's day was visible
when the trade was executed.

    python -m benchmarks.day_visibility --data WORLD --home HOME [--test-days 40]

``WORLD``: a simulated dataset (it has the oracle's ``truth`` table); ``HOME``: a project home
whose champion was trained on it (a zoo run's ``--homes``/``--cache`` directory holds both). The
test window's trades, at the execution stage, are split by the number of trades the same
counterparty executed earlier on the same trade date; per bucket, PR-AUC of the champion and
of the oracle, and their ratio. On a world where a counterparty's day can go bad (the zoo's
"bad days"), the oracle knows the day from its first trade and the model only from the trades
already seen: a ratio that climbs with the bucket says the gap is information the model could
not have had at execution, not a model that fails to learn. The truth table is read for this
evaluation only, never for features.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table
from sklearn.metrics import average_precision_score

from core.runtime import quiet_libraries
from core.settings import Settings
from training.assess import assessed_rows, load_model
from training.dataset import split_starts
from training.evaluate import ORACLE, truth_scorers
from training.train import TrainConfig

BUCKETS = ((0, 0), (1, 2), (3, 5), (6, 9), (10, 19), (20, None))
MIN_FAILS = 20  # a bucket with fewer fails gives no PR-AUC worth printing


def earlier_that_day(trades: pd.DataFrame) -> pd.Series:
    """Per trade id: how many trades its counterparty executed before it on its trade date."""
    ordered = trades.sort_values("execution_ts", kind="stable")
    counts = ordered.groupby(["counterparty_id", "trade_date"]).cumcount()
    return pd.Series(counts.to_numpy(), index=ordered["trade_id"].to_numpy(), name="earlier")


def by_bucket(rows: pd.DataFrame) -> list[dict[str, float | int | str]]:
    """PR-AUC of ``model`` and ``oracle`` against ``failed``, over all rows and per bucket of
    ``earlier``."""
    out: list[dict[str, float | int | str]] = []
    masks = [("all", np.ones(len(rows), dtype=bool))]
    for lo, hi in BUCKETS:
        name = f"{lo}+" if hi is None else (f"{lo}" if lo == hi else f"{lo}–{hi}")
        upper = np.inf if hi is None else hi
        masks.append((name, ((rows["earlier"] >= lo) & (rows["earlier"] <= upper)).to_numpy()))
    y = rows["failed"].to_numpy(dtype=bool)
    for name, mask in masks:
        fails = int(y[mask].sum())
        if fails < MIN_FAILS:
            continue
        model = float(average_precision_score(y[mask], rows["model"].to_numpy()[mask]))
        oracle = float(average_precision_score(y[mask], rows["oracle"].to_numpy()[mask]))
        out.append(
            {
                "earlier": name,
                "trades": int(mask.sum()),
                "fails": fails,
                "model": model,
                "oracle": oracle,
                "ratio": model / oracle,
            }
        )
    return out


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="a simulated dataset")
    parser.add_argument("--home", type=Path, required=True, help="a home trained on it")
    parser.add_argument("--project", default="zoo", help="the home's Feast project")
    parser.add_argument("--test-days", type=int, default=TrainConfig().test_days)
    args = parser.parse_args()

    settings = Settings(home=args.home, feast_project=args.project)
    split = TrainConfig(test_days=args.test_days)

    def in_test_window(trades: pd.DataFrame) -> np.ndarray:
        dates = trades["trade_date"]
        first = split_starts(dates, split.test_days, split.calib_days, split.valid_days)["test"]
        return (dates >= first).to_numpy()

    dataset, rows = assessed_rows(args.data, settings, chosen=in_test_window)
    rows = rows.loc[rows["stage"] == "EXECUTION"].reset_index(drop=True)
    rows["model"] = load_model(settings).predict(rows)
    scorers = truth_scorers(args.data, rows)
    if ORACLE not in scorers:
        raise SystemExit(f"{args.data}: no truth.parquet; only a simulated world has an oracle")
    rows["oracle"] = scorers[ORACLE][0]
    rows["earlier"] = earlier_that_day(dataset["trades"]).reindex(rows["trade_id"]).to_numpy()

    table = Table(title=f"Execution stage, last {args.test_days} trade dates of {args.data.name}")
    for column in ("counterparty's earlier trades that day", "trades", "fails", "model", "oracle"):
        table.add_column(column, justify="right")
    table.add_column("model / oracle", justify="right")
    for r in by_bucket(rows):
        table.add_row(
            str(r["earlier"]),
            f"{r['trades']:,}",
            f"{r['fails']:,}",
            f"{r['model']:.3f}",
            f"{r['oracle']:.3f}",
            f"{r['ratio']:.3f}",
        )
    Console().print(table)


if __name__ == "__main__":
    main()
