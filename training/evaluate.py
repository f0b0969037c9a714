"""Evaluation on a held-out window: every scorer by stage and asset class, the cause head,
and, on simulated data, the oracle (the only module besides the simulator that reads truth)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from core.stages import STAGES
from core.vocabulary import ASSET_CLASSES
from training.metrics import score_metrics

__all__ = [
    "HINDSIGHT",
    "ORACLE",
    "Scorer",
    "cause_accuracy",
    "evaluation_table",
    "truth_scorers",
]

ORACLE = "oracle"
HINDSIGHT = "hindsight"
# The oracle knows everything up to the scoring instant, the simulator's latent state included,
# and averages the label's probability over what happens afterwards: the best any scorer at
# that stage can do. Hindsight is the probability the label was drawn from, which also knows
# what happened after the snapshot: a ceiling above every stage's oracle.
_ORACLE_COLUMN = {"EXECUTION": "p_fail_at_execution", "ISD_1": "p_fail_at_isd_1"}
_HINDSIGHT_COLUMN = "p_fail_final"
_REFERENCES = (ORACLE, HINDSIGHT)

Scorer = tuple[np.ndarray, bool]
"""A score per row and whether it is a probability (calibration metrics apply)."""


def truth_scorers(data_dir: Path, rows: pd.DataFrame) -> dict[str, Scorer]:
    """The simulator's truth as scorers of each (trade, stage) row: the oracle where the
    stage has one (NaN elsewhere) and hindsight everywhere; none for real data."""
    path = data_dir / "truth.parquet"
    if not path.exists():
        return {}
    truth = pd.read_parquet(path).set_index("trade_id")
    trade = rows["trade_id"]
    oracle = np.full(len(rows), np.nan)
    for stage, column in _ORACLE_COLUMN.items():
        at = (rows["stage"] == stage).to_numpy()
        oracle[at] = trade[at].map(truth[column]).to_numpy(float)
    hindsight = trade.map(truth[_HINDSIGHT_COLUMN]).to_numpy(float)
    return {ORACLE: (oracle, True), HINDSIGHT: (hindsight, True)}


def evaluation_table(rows: pd.DataFrame, scorers: dict[str, Scorer]) -> pd.DataFrame:
    """Metrics per scorer for every stage (and all stages) × asset class (and all), with
    each scorer's PR-AUC over the oracle's and hindsight's where they are scorers. A scorer
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
    key = pd.MultiIndex.from_frame(table[["stage", "asset_class"]])
    for reference in _REFERENCES:
        if reference in scorers:
            ref = table.loc[table["scorer"] == reference].set_index(["stage", "asset_class"])
            ratio = table["pr_auc"].to_numpy() / ref["pr_auc"].reindex(key).to_numpy()
            table[f"pr_auc_vs_{reference}"] = ratio
    return table


def cause_accuracy(
    rows: pd.DataFrame, predict_cause: Callable[[pd.DataFrame], np.ndarray]
) -> dict[str, float]:
    """Accuracy of the cause ``predict_cause`` names on the failed trades of ``rows``, per
    stage and overall; only those rows are predicted (a twentieth of a test window)."""
    failed = rows.loc[rows["failed"].to_numpy(dtype=bool)]
    right = predict_cause(failed) == failed["fail_reason"].to_numpy()
    out = {"ALL": float(right.mean()) if len(failed) else float("nan")}
    for stage in STAGES:
        at = (failed["stage"] == stage).to_numpy()
        out[stage] = float(right[at].mean()) if at.any() else float("nan")
    return out
