"""The sample family importance predicts on a large test window: every fail kept, settled rows
drawn and weighted back, so the weighted PR-AUC estimates the whole window's."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score

from training.importance import importance_sample


def _window(n: int, seed: int = 3) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    failed = rng.random(n) < 0.03
    score = rng.normal(size=n) + 1.2 * failed  # a model that ranks fails higher, imperfectly
    return failed, score


def test_a_window_within_the_budget_is_taken_whole_and_unweighted() -> None:
    failed, _ = _window(1_000)
    keep, weights = importance_sample(failed, 1_000, seed=7)
    assert weights is None
    np.testing.assert_array_equal(keep, np.arange(1_000))


def test_every_fail_is_kept_and_the_settled_are_weighted_back() -> None:
    failed, _ = _window(400_000)
    keep, weights = importance_sample(failed, 50_000, seed=7)
    assert weights is not None
    assert np.all(np.diff(keep) > 0)  # positions in window order, none twice
    assert failed[keep].sum() == failed.sum()
    assert abs(len(keep) - 50_000) < 1_000
    # the weighted settled rows stand for all of the window's settled rows
    settled = ~failed[keep]
    assert abs(weights[settled].sum() / (~failed).sum() - 1) < 0.02


def test_the_weighted_pr_auc_of_the_sample_estimates_the_windows() -> None:
    failed, score = _window(400_000)
    whole = average_precision_score(failed, score)
    keep, weights = importance_sample(failed, 50_000, seed=7)
    sampled = average_precision_score(failed[keep], score[keep], sample_weight=weights)
    unweighted = average_precision_score(failed[keep], score[keep])
    assert abs(sampled - whole) < 0.005
    assert unweighted - whole > 0.05  # without the weights, the sample's fails look common
