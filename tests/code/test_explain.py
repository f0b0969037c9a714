"""The fast TreeSHAP equals LightGBM's own pred_contrib, whatever the trees hold: missing
values of each kind, zeros treated as missing, categories seen, unseen, negative or missing,
one-leaf trees, leaves too deep for a table, batches split across threads."""

from __future__ import annotations

import multiprocessing
from typing import Any

import lightgbm as lgb
import numpy as np
import pytest

from serving.scoring.explain import PARALLEL_MIN_ROWS, TreeExplainer
from serving.scoring.predict import TreePredictor

EXACT = 1e-9  # the issue asks for 1e-6; the two computations agree far closer than that


def _data(n: int = 4000, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 8))
    x[:, 3] = rng.integers(0, 7, n)  # a category
    x[rng.random(n) < 0.15, 0] = np.nan  # missing values to learn a direction for
    x[rng.random(n) < 0.3, 1] = 0.0  # zeros, for zero_as_missing
    y = x[:, 1] + np.nan_to_num(x[:, 0], nan=1.5) + (x[:, 3] == 2) - (x[:, 3] == 5)
    return x, (y + rng.normal(size=n) > 0.7).astype(int)


def _booster(x: np.ndarray, y: np.ndarray, rounds: int = 40, **params: object) -> lgb.Booster:
    base = {"objective": "binary", "num_leaves": 15, "min_child_samples": 10, "verbose": -1}
    data = lgb.Dataset(x, y, categorical_feature=[3], params={"min_data_per_group": 5})
    return lgb.train({**base, **params}, data, rounds)


def _awkward_rows(x: np.ndarray) -> np.ndarray:
    """Rows that take every special branch: NaN anywhere, unseen/negative/NaN categories,
    exact zeros and values inside LightGBM's zero band."""
    rows = x[:200].copy()
    rows[0:10, 3] = np.nan
    rows[10:20, 3] = -1
    rows[20:30, 3] = 17
    rows[30:40, 3] = 2.7  # truncated to 2, as LightGBM does
    rows[40:60, 0] = np.nan
    rows[60:80, 1] = np.nan
    rows[80:90, 1] = 1e-40
    rows[90:100, :] = np.nan
    return rows


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"zero_as_missing": True},
        {"use_missing": False},
        {"num_leaves": 63, "max_depth": -1, "min_child_samples": 2},
    ],
    ids=["default", "zero-as-missing", "no-missing", "deep"],
)
def test_equals_pred_contrib(params: dict) -> None:
    x, y = _data()
    booster = _booster(x, y, **params)
    rows = _awkward_rows(x)
    got = TreeExplainer(booster).contributions(rows)
    want = np.asarray(booster.predict(rows, pred_contrib=True))
    assert got.shape == want.shape == (len(rows), x.shape[1] + 1)
    np.testing.assert_allclose(got, want, rtol=0, atol=EXACT)
    np.testing.assert_allclose(
        got.sum(axis=1), np.asarray(booster.predict(rows, raw_score=True)), atol=EXACT
    )


def test_leaves_too_deep_for_a_table_are_computed_directly() -> None:
    x, y = _data(seed=1)
    booster = _booster(x, y, num_leaves=63, min_child_samples=2)
    rows = _awkward_rows(x)
    tabled = TreeExplainer(booster).contributions(rows)
    direct = TreeExplainer(booster, table_max_depth=0).contributions(rows)
    np.testing.assert_allclose(direct, tabled, rtol=0, atol=EXACT)
    want = np.asarray(booster.predict(rows, pred_contrib=True))
    np.testing.assert_allclose(direct, want, atol=EXACT)


def test_one_leaf_trees_are_all_base_value() -> None:
    x, y = _data()
    booster = _booster(x, y, rounds=5, min_data_in_leaf=10**6)  # no split possible
    rows = x[:5]
    got = TreeExplainer(booster).contributions(rows)
    want = np.asarray(booster.predict(rows, pred_contrib=True))
    np.testing.assert_allclose(got, want, atol=EXACT)
    assert np.all(got[:, :-1] == 0)


def test_a_batch_split_across_threads_equals_rows_one_by_one() -> None:
    x, y = _data()
    explainer = TreeExplainer(_booster(x, y))
    rows = x[: PARALLEL_MIN_ROWS * 3 + 1]
    batch = explainer.contributions(rows)
    singles = np.vstack([explainer.contributions(rows[i : i + 1]) for i in range(len(rows))])
    np.testing.assert_array_equal(batch, singles)


def _explain_in_child(explainer: TreeExplainer, rows: np.ndarray, out: Any) -> None:
    out.put(explainer.contributions(rows))


def test_a_process_forked_after_a_batch_explains_batches_of_its_own() -> None:
    """The parent's threads do not run in a forked child: the child starts its own."""
    x, y = _data()
    explainer = TreeExplainer(_booster(x, y))
    rows = x[: PARALLEL_MIN_ROWS * 2]
    batch = explainer.contributions(rows)  # the parent's threads are started
    fork = multiprocessing.get_context("fork")
    out = fork.Queue()
    child = fork.Process(target=_explain_in_child, args=(explainer, rows, out))
    child.start()
    try:
        np.testing.assert_array_equal(out.get(timeout=60), batch)
    finally:
        child.join(timeout=10)
        if child.is_alive():
            child.kill()
    assert child.exitcode == 0


def test_refuses_what_it_cannot_explain() -> None:
    x, y = _data()
    explainer = TreeExplainer(_booster(x, y, rounds=3))
    with pytest.raises(ValueError, match="8 feature columns, got shape"):
        explainer.contributions(x[:, :5])
    multi = lgb.train(
        {"objective": "multiclass", "num_class": 3, "verbose": -1},
        lgb.Dataset(x, (np.nan_to_num(x[:, 0]) > 0) + (x[:, 1] > 0)),
        3,
    )
    with pytest.raises(ValueError, match="single-output models"):
        TreeExplainer(multi)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"zero_as_missing": True},
        {"use_missing": False},
        {"objective": "multiclass", "num_class": 4, "metric": "multi_logloss"},
    ],
    ids=["default", "zero-as-missing", "no-missing", "multiclass"],
)
def test_the_compiled_predictor_equals_lightgbm(params: dict) -> None:
    x, y = _data()
    if params.get("objective") == "multiclass":
        y = y + (x[:, 3] == 2) + 2 * (np.nan_to_num(x[:, 0]) > 1)
        y = np.minimum(y, 3)
    booster = _booster(x, y, **params)
    rows = _awkward_rows(x)
    predictor = TreePredictor(booster)
    want = np.asarray(booster.predict(rows, raw_score=True)).reshape(len(rows), -1)
    np.testing.assert_allclose(predictor.raw(rows), want, rtol=0, atol=EXACT)
    one = predictor.raw(rows[:1])
    np.testing.assert_allclose(one, want[:1], rtol=0, atol=EXACT)
    with pytest.raises(ValueError, match="8 feature columns, got shape"):
        predictor.raw(rows[:, :5])
