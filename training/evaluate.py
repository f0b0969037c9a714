"""Evaluation on a held-out window: every scorer by stage and asset class, the cause head,
and, on simulated data, the oracle (the only module besides the simulator that reads truth)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.contract import ASSET_CLASSES
from features.stages import STAGES
from training.metrics import score_metrics

__all__ = ["ORACLE", "Scorer", "cause_accuracy", "evaluation_table", "oracle_scores"]

ORACLE = "oracle"
# The probability an oracle knows at each stage: at execution, the label's probability
# averaged over everything that happens afterwards; on ISD-1, the probability it was drawn from.
_ORACLE_COLUMN = {"EXECUTION": "p_fail_at_execution", "ISD_1": "p_fail_final"}

Scorer = tuple[np.ndarray, bool]
"""A score per row and whether it is a probability (calibration metrics apply)."""


def oracle_scores(data_dir: Path, rows: pd.DataFrame) -> np.ndarray | None:
    """The simulator's truth for each (trade, stage) row where an oracle exists (NaN
    elsewhere); None for a dataset without truth (real data)."""
    path = data_dir / "truth.parquet"
    if not path.exists():
        return None
    truth = pd.read_parquet(path).set_index("trade_id")
    out = np.full(len(rows), np.nan)
    for stage, column in _ORACLE_COLUMN.items():
        at = (rows["stage"] == stage).to_numpy()
        out[at] = rows.loc[at, "trade_id"].map(truth[column]).to_numpy(float)
    return out


def evaluation_table(rows: pd.DataFrame, scorers: dict[str, Scorer]) -> pd.DataFrame:
    """Metrics per scorer for every stage (and all stages) × asset class (and all). A scorer
    with NaN scores (the oracle at the cutoff) is left out where it has none."""
    records = []
    stages = [*STAGES, "ALL"]
    assets = ["ALL", *ASSET_CLASSES]
    y = rows["failed"].to_numpy()
    penalty = rows["penalty"].to_numpy(float)
    for stage in stages:
        in_stage = (
            np.ones(len(rows), bool) if stage == "ALL" else (rows["stage"] == stage).to_numpy()
        )
        for asset in assets:
            mask = in_stage & (
                True if asset == "ALL" else (rows["asset_class"] == asset).to_numpy()
            )
            for name, (score, is_probability) in scorers.items():
                scored = mask & ~np.isnan(score)
                if not scored.any() or (name == ORACLE and stage == "ALL"):
                    continue
                metrics = score_metrics(y[scored], score[scored], penalty[scored], is_probability)
                records.append({"scorer": name, "stage": stage, "asset_class": asset, **metrics})
    table = pd.DataFrame.from_records(records)
    if ORACLE in scorers:
        oracle = table.loc[table["scorer"] == ORACLE].set_index(["stage", "asset_class"])["pr_auc"]
        key = pd.MultiIndex.from_frame(table[["stage", "asset_class"]])
        table["pr_auc_vs_oracle"] = table["pr_auc"].to_numpy() / oracle.reindex(key).to_numpy()
    return table


def cause_accuracy(rows: pd.DataFrame, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy of the predicted cause on failed trades, per stage and overall."""
    failed = rows["failed"].to_numpy()
    right = predicted == rows["fail_reason"].to_numpy()
    out = {"ALL": float(right[failed].mean()) if failed.any() else float("nan")}
    for stage in STAGES:
        at = failed & (rows["stage"] == stage).to_numpy()
        out[stage] = float(right[at].mean()) if at.any() else float("nan")
    return out
