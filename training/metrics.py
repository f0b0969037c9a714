"""Ranking, calibration and ops-capacity metrics of a score against outcomes."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

__all__ = [
    "CAPACITIES",
    "ECE_BINS",
    "expected_calibration_error",
    "recall_at",
    "riskiest_first",
    "score_metrics",
]

CAPACITIES = (0.01, 0.05)
"""Shares of the day's trades ops can work: recall is measured among the riskiest ones."""
ECE_BINS = 20


def riskiest_first(score: np.ndarray) -> np.ndarray:
    """Row order from the riskiest score down; ties (the ops rule scores 0-3) are broken at
    random, not by row order."""
    tie_break = np.random.default_rng(0).random(score.size)
    return np.lexsort((tie_break, -np.asarray(score, dtype=float)))


def recall_at(
    y: np.ndarray,
    score: np.ndarray,
    share: float,
    weight: np.ndarray | None = None,
    order: np.ndarray | None = None,
) -> float:
    """Share of fails (or of their weight) among the riskiest ``share`` of trades
    (``order``: ``riskiest_first(score)``, when already at hand)."""
    weight = np.ones(y.size) if weight is None else weight
    total = float((weight * y).sum())
    if total == 0:
        return float("nan")
    k = max(round(share * y.size), 1)
    top = (riskiest_first(score) if order is None else order)[:k]
    return float((weight[top] * y[top]).sum() / total)


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Mean |predicted - observed| fail rate over equal-count bins of the prediction,
    weighted by bin size (equal-count bins: most trades sit below a few percent)."""
    order = np.argsort(p, kind="stable")
    gaps = [abs(p[b].mean() - y[b].mean()) * b.size for b in np.array_split(order, bins) if b.size]
    return float(sum(gaps) / y.size)


def score_metrics(
    y: np.ndarray, score: np.ndarray, penalty: np.ndarray, probability: bool = True
) -> dict[str, float]:
    """PR-AUC, ROC-AUC, recall and cost-weighted recall at each capacity; Brier and
    calibration error when ``score`` is a probability."""
    y = np.asarray(y, dtype=bool)
    out = {"n": float(y.size), "fail_rate": float(y.mean()) if y.size else float("nan")}
    if y.size == 0 or y.all() or not y.any():
        return out
    out["pr_auc"] = float(average_precision_score(y, score))
    out["roc_auc"] = float(roc_auc_score(y, score))
    order = riskiest_first(score)  # one ranking for every capacity and weight
    for share in CAPACITIES:
        pct = f"{round(share * 100)}pct"
        out[f"recall_at_{pct}"] = recall_at(y, score, share, order=order)
        out[f"cost_recall_at_{pct}"] = recall_at(y, score, share, penalty, order=order)
    if probability:
        out["brier"] = float(brier_score_loss(y, score))
        out["ece"] = expected_calibration_error(y, score)
    return out
