"""What training builds beside the feature matrix: labels taken per trade for each of its
stages, and the logistic baseline scored in batches, each equal to the plain computation."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from core.stages import STAGES
from features.data.contract import Dataset
from training import baselines
from training.baselines import fit_logistic, logistic_scores
from training.dataset import decided, labelled, row_labels


def _rows(positions: np.ndarray, stages: np.ndarray) -> pd.DataFrame:
    """``snapshot_rows``' shape: position in the trades, stage, scoring instant."""
    return pd.DataFrame(
        {
            "trade": positions.astype(np.int32),
            "stage": pd.Categorical(stages, categories=list(STAGES)),
            "event_timestamp": pd.to_datetime(
                1_700_000_000_000_000 + np.arange(len(positions)), unit="us", utc=True
            ),
        }
    )


def test_row_labels_are_the_rows_labelled_one_by_one(small_world: Dataset) -> None:
    trades = small_world["trades"]
    chosen = np.flatnonzero(decided(small_world))
    rng = np.random.default_rng(3)
    positions = rng.permutation(np.repeat(chosen, len(STAGES)))  # any order, each trade thrice
    stages = rng.choice(np.asarray(STAGES, dtype=object), len(positions))
    rows = _rows(positions, stages)

    got = row_labels(rows, small_world)

    one_by_one = labelled(
        pd.DataFrame(
            {
                "trade_id": trades["trade_id"].to_numpy()[positions],
                "instrument_id": trades["instrument_id"].to_numpy()[positions],
                "stage": stages,
                "event_timestamp": rows["event_timestamp"].to_numpy(),
            }
        ),
        small_world,
    )
    assert got["failed"].any() and not got["failed"].all()
    assert list(got.columns) == list(one_by_one.columns)
    # compact labels: repeated strings as categories, whole days in float32
    for name in ("instrument_id", "fail_reason", "asset_class"):
        assert isinstance(got[name].dtype, pd.CategoricalDtype), name
    assert got["days_late"].dtype == np.float32
    pd.testing.assert_frame_equal(
        got, one_by_one, check_dtype=False, check_categorical=False, check_exact=True
    )


def test_row_labels_refuse_a_trade_without_an_outcome(small_world: Dataset) -> None:
    pending = np.flatnonzero(~decided(small_world))
    assert pending.size, "the small world has trades still pending"
    rows = _rows(pending[:2], np.asarray([STAGES[0], STAGES[0]], dtype=object))
    with pytest.raises(InvalidInput, match="no outcome"):
        row_labels(rows, small_world)


def test_the_logistic_baseline_scores_in_batches_as_in_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(size=(2_500, 4)).astype(np.float32)
    values[rng.random(values.shape) < 0.1] = np.nan
    values[7, 1], values[2_100, 3] = np.inf, -np.inf
    x = pd.DataFrame(values, columns=["a", "b", "c", "d"])
    y = (values[:, 0] + rng.normal(size=len(values)) > 1).astype(int)
    model = fit_logistic(x, y)
    whole = model.predict_proba(x.replace([np.inf, -np.inf], np.nan))[:, 1]

    monkeypatch.setattr(baselines, "SCORE_BATCH_ROWS", 1_000)  # three batches, the last short
    batched = logistic_scores(model, x)

    assert np.isfinite(batched).all()
    # float32 sums add up in another order in a shorter batch: equal to the last bits
    np.testing.assert_allclose(batched, whole, rtol=1e-5, atol=1e-7)
