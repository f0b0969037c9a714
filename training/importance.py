"""What each family of features is worth: the PR-AUC the model loses on the test window when
the family's features are permuted together (one shuffle of the rows for all of them, so that
features of one family that carry the same signal cannot stand in for each other).

Permuting, not retraining without the family: one model, one prediction per family, and the
figure answers "what does this model draw from the family", which is what a data scientist
reading it wants before deciding to drop one.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score

from core.catalogue import FEATURES
from core.errors import InvalidInput
from training.model import FailModel

__all__ = ["REPEATS", "families_of", "family_importance", "importance_sample"]

REPEATS = 1
"""Shuffles per family (their mean is the figure): the rows permuted number a hundred thousand
or more, so one shuffle varies little, and each costs a prediction of all of them."""


def importance_sample(
    failed: np.ndarray, max_rows: int, seed: int
) -> tuple[np.ndarray, np.ndarray | None]:
    """Positions of about ``max_rows`` rows and their weights (None: all rows, unweighted).
    Every failed row is kept, as PR-AUC turns on them; settled rows are drawn at random, each
    weighted by the inverse of its chance of being drawn, so a weighted PR-AUC estimates the
    whole window's. At least half the budget goes to settled rows."""
    n = len(failed)
    if n <= max_rows:
        return np.arange(n), None
    fails, settled = np.flatnonzero(failed), np.flatnonzero(~failed)
    share = min(1.0, max(max_rows - fails.size, max_rows // 2) / max(settled.size, 1))
    drawn = settled[np.random.default_rng(seed).random(settled.size) < share]
    keep = np.sort(np.concatenate([fails, drawn]))
    weights = np.where(failed[keep], 1.0, 1.0 / share)
    return keep, weights


def families_of(features: list[str]) -> dict[str, list[str]]:
    """The model's features grouped by catalogue family, families in first-seen order."""
    out: dict[str, list[str]] = {}
    for name in features:
        out.setdefault(FEATURES[name].family.name.lower(), []).append(name)
    return out


def family_importance(
    model: FailModel,
    rows: pd.DataFrame,
    stages: Mapping[str, np.ndarray] | None = None,
    seed: int = 7,
    max_rows: int | None = None,
    raw: np.ndarray | None = None,
) -> pd.DataFrame:
    """PR-AUC lost per family when its features are permuted, over all ``rows`` and over each
    mask of ``stages``; one row per family, largest loss first. The calibration is monotone,
    so the booster's own probability ranks as the calibrated one does.

    Each family costs a prediction of every row. ``max_rows`` (None: all rows) samples a
    larger window, all failed rows kept (``importance_sample``): faster and noisier, the
    sampling's noise coming on top of the shuffle's (benchmarks/RESULTS.md measures both).
    ``raw``, the booster's probability of each of ``rows`` when the caller has it (the
    evaluation's), spares the unpermuted prediction."""
    if raw is not None and len(raw) != len(rows):
        raise InvalidInput(f"raw: {len(raw):,} probabilities for {len(rows):,} rows; one per row")
    y = rows["failed"].to_numpy(dtype=bool)
    keep, weights = importance_sample(y, max_rows or len(y), seed)
    y = y[keep]
    x = rows[model.features].iloc[keep].to_numpy(dtype=np.float32)  # as the model was trained
    masks = {"ALL": np.ones(len(rows), dtype=bool), **(stages or {})}
    masks = {name: m[keep] for name, m in masks.items()}
    masks = {name: m for name, m in masks.items() if y[m].any() and not y[m].all()}

    def pr_auc(score: np.ndarray) -> dict[str, float]:
        return {
            name: float(
                average_precision_score(
                    y[m], score[m], sample_weight=None if weights is None else weights[m]
                )
            )
            for name, m in masks.items()
        }

    base = pr_auc(np.asarray(model.booster.predict(x)) if raw is None else raw[keep])
    rng = np.random.default_rng(seed)
    records = []
    for family, names in families_of(model.features).items():
        columns = [model.features.index(n) for n in names]
        lost = {name: 0.0 for name in masks}
        kept = x[:, columns].copy()
        for _ in range(REPEATS):
            x[:, columns] = kept[rng.permutation(len(x))]  # in place: no copy of the matrix
            got = pr_auc(np.asarray(model.booster.predict(x)))
            for name in masks:
                lost[name] += (base[name] - got[name]) / REPEATS
        x[:, columns] = kept
        records.append({"family": family, "features": len(names), **lost})
    return pd.DataFrame.from_records(records).sort_values("ALL", ascending=False, ignore_index=True)
