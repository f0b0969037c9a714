"""Behaviour of the trained champion, as an ops analyst would check it: what should raise a
trade's risk does (directional), what should not matter does not (invariance), and the
obvious cases come out right (minimum functionality). Each check perturbs real feature rows
of the training world, point in time, and compares the champion's probabilities."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from features.build import build_features
from features.data.contract import Dataset, read_dataset, write_dataset
from features.reference import Reference
from features.retrieval import training_frame
from features.store import open_store
from serving.api.client import trade_records
from serving.scoring.schemas import Trade
from serving.scoring.scorer import Scorer
from tests.conftest import Trained
from training.model import FailModel
from training.tracking import CHAMPION, MODEL_NAME, load_fail_model


@pytest.fixture(scope="module")
def champion(trained: Trained) -> FailModel:
    mlflow.set_tracking_uri(trained.settings.tracking_uri)
    return load_fail_model(f"models:/{MODEL_NAME}@{CHAMPION}")


@pytest.fixture(scope="module")
def dataset(training_dir: Path) -> Dataset:
    return read_dataset(training_dir)


@pytest.fixture(scope="module")
def rows(trained: Trained, dataset: Dataset) -> pd.DataFrame:
    """Every (trade, stage) snapshot of the last 2,000 trades, features point in time."""
    recent = {**dataset, "trades": dataset["trades"].tail(2_000)}
    with open_store(trained.settings) as store:
        return training_frame(store, Reference.load(trained.settings), recent)


def _at(rows: pd.DataFrame, stage: str) -> pd.DataFrame:
    return rows.loc[rows["stage"] == stage].reset_index(drop=True)


# --- directional -------------------------------------------------------------------------


def test_an_unaffirmed_trade_past_the_cutoff_is_riskier(
    champion: FailModel, rows: pd.DataFrame
) -> None:
    cutoff = _at(rows, "CUTOFF")
    affirmed = cutoff.assign(affirmed=1, affirmed_late=0)
    unaffirmed = cutoff.assign(affirmed=0, affirmed_late=1)
    # by 15% at least: on this small world the counterparty's other trades of the day (the
    # intraday features, left as they were) carry part of the same signal
    assert champion.predict(unaffirmed).mean() > 1.15 * champion.predict(affirmed).mean()


def test_a_freshly_changed_unverified_ssi_is_riskier(
    champion: FailModel, rows: pd.DataFrame
) -> None:
    execution = _at(rows, "EXECUTION")
    settled_in = execution.assign(
        ssi_age_days=400.0, ssi_unverified=0.0, ssi_days_since_verified=390.0, ssi_changes_90d=0.0
    )
    changed = execution.assign(
        ssi_age_days=1.0, ssi_unverified=1.0, ssi_days_since_verified=np.nan, ssi_changes_90d=2.0
    )
    assert champion.predict(changed).mean() > 1.2 * champion.predict(settled_in).mean()


def test_a_sell_the_inventory_does_not_cover_is_riskier(
    champion: FailModel, rows: pd.DataFrame
) -> None:
    sells = _at(rows, "ISD_1").loc[lambda r: r["is_sell"] == 1]
    covered = sells.assign(inventory_coverage=3.0, available_coverage=3.0)
    short = sells.assign(inventory_coverage=0.2, available_coverage=0.1)
    assert champion.predict(short).mean() > 2 * champion.predict(covered).mean()


# --- invariance --------------------------------------------------------------------------


def test_the_trade_id_does_not_change_the_score(trained: Trained, dataset: Dataset) -> None:
    scorer = Scorer.from_settings(trained.settings)
    records = trade_records(dataset["trades"].tail(50))
    renamed = [{**r, "trade_id": f"OTHER-{i:05d}"} for i, r in enumerate(records)]
    at = int(pd.Timestamp(dataset["trades"]["execution_ts"].max()).value // 1_000)
    first = scorer.score([Trade.model_validate(r) for r in records], at)
    second = scorer.score([Trade.model_validate(r) for r in renamed], at)
    assert [s.fail_probability for s in first] == [s.fail_probability for s in second]
    assert [s.reasons for s in first] == [s.reasons for s in second]


def test_the_desks_name_does_not_change_the_score(
    trained: Trained, champion: FailModel, dataset: Dataset, tmp_path: Path
) -> None:
    """Rename every desk (in the trades and so in every feature keyed by desk) and build
    the features again: the same trades get the same probabilities."""
    desks = sorted(dataset["trades"]["desk_id"].unique())
    names = {d: f"Desk {chr(65 + i)} — {d.lower()}" for i, d in enumerate(desks)}
    trades = dataset["trades"].assign(desk_id=dataset["trades"]["desk_id"].map(names))
    renamed = write_dataset({**dataset, "trades": trades}, tmp_path / "renamed")
    settings = trained.settings.model_copy(
        update={"home": tmp_path / "home", "feast_project": "renamed_desks"}
    )
    build_features(renamed, settings)
    recent = {**dataset, "trades": trades.tail(500)}
    with open_store(settings) as store:
        theirs = training_frame(store, Reference.load(settings), recent)
    original = {**dataset, "trades": dataset["trades"].tail(500)}
    with open_store(trained.settings) as store:
        ours = training_frame(store, Reference.load(trained.settings), original)
    assert set(theirs["desk_id"]) == {names[d] for d in set(ours["desk_id"])}
    np.testing.assert_array_equal(champion.predict(theirs), champion.predict(ours))


# --- minimum functionality -----------------------------------------------------------------


def test_a_trade_with_every_red_flag_is_high_risk_and_a_clean_one_is_not(
    trained: Trained, champion: FailModel, rows: pd.DataFrame
) -> None:
    sells = _at(rows, "ISD_1").loc[lambda r: r["is_sell"] == 1]
    clean = sells.assign(
        affirmed=1, affirmed_late=0, instructed=1, matched=1, allocated=1, confirmed=1,
        inventory_coverage=3.0, available_coverage=3.0,
        ssi_age_days=400.0, ssi_unverified=0.0, ssi_days_since_verified=390.0, ssi_changes_90d=0.0,
    )  # fmt: skip
    flagged = sells.assign(
        affirmed=0, affirmed_late=1, instructed=0, matched=0,
        inventory_coverage=0.1, available_coverage=0.0,
        ssi_age_days=1.0, ssi_unverified=1.0, ssi_days_since_verified=np.nan, ssi_changes_90d=2.0,
    )  # fmt: skip
    high, medium = trained.settings.risk_high, trained.settings.risk_medium
    assert np.median(champion.predict(flagged)) >= high
    assert np.median(champion.predict(clean)) < medium


# --- the matrix's type --------------------------------------------------------------------


def test_a_float32_frame_scores_as_its_float64_copy(
    champion: FailModel, rows: pd.DataFrame
) -> None:
    # training evaluates the test window in the matrix's float32, serving scores float64
    # vectors: every float32 is a float64, so both must give the very same probabilities
    wide = rows.astype({name: np.float64 for name in champion.features})
    narrow = rows.astype({name: np.float32 for name in champion.features})
    assert np.array_equal(champion.predict(narrow), champion.predict(wide))
    assert np.array_equal(champion.predict_cause(narrow), champion.predict_cause(wide))
