"""The rows `failcast evaluate` and `failcast backtest` score, built lean (features before
the dataset, the events let go, the features held once in float32), against the same rows
built the plain way: every table read, the matrix as a float64 frame, labelled whole."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from features.data.contract import read_dataset
from features.reference import Reference
from features.retrieval import training_matrix
from features.store import open_store
from tests.conftest import Trained
from training.assess import assessed_rows
from training.dataset import labelled


def test_lean_rows_equal_the_plain_rows_of_a_period(trained: Trained, training_dir: Path) -> None:
    settings = trained.settings
    dataset = read_dataset(training_dir)
    dates = dataset["trades"]["settlement_date"]
    cut = dates.sort_values().iloc[int(0.8 * len(dates))]

    def chosen(trades: pd.DataFrame) -> np.ndarray:
        return (trades["settlement_date"] >= cut).to_numpy()

    _, lean = assessed_rows(training_dir, settings, chosen=chosen)
    with open_store(settings) as store:
        matrix = training_matrix(
            store, Reference.load(settings), dataset, only=chosen(dataset["trades"])
        )
    plain = labelled(matrix.frame(dataset["trades"]), dataset)

    assert len(lean) == len(plain) > 0
    assert not lean.columns.duplicated().any()
    assert set(plain["stage"]) == set(lean["stage"]) and plain["failed"].any()
    for column in lean.columns:
        ours, theirs = lean[column], plain[column]
        if column in matrix.names:
            assert ours.dtype == np.float32, column
            np.testing.assert_array_equal(ours.to_numpy(np.float64), theirs.to_numpy(), column)
        else:  # the same values; the labels compact (categories, float32 days)
            pd.testing.assert_series_equal(
                ours,
                theirs,
                check_names=False,
                check_dtype=False,
                check_categorical=False,
                check_exact=True,
                obj=column,
            )
