"""Training on a small world: metrics that make sense beside the baselines and the oracle,
the promotion gate's two outcomes, and no leakage from the test window into the model."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from core.settings import Settings
from features.data.contract import read_dataset, write_dataset
from tests.conftest import TRAINING_SPLIT, Trained
from training.artefacts import GATE_PASSED, GATE_TAG
from training.model import ModelParams
from training.tracking import CHALLENGER, CHAMPION, MODEL_NAME, load_fail_model
from training.train import TrainResult, train

WEAK = ModelParams(num_leaves=2, max_trees=2, early_stopping_rounds=1, cause_max_rounds=2)


def _settings(home: Path) -> Settings:
    return Settings(home=home, feast_project="t" + home.name.replace("-", "_")[-20:])


def _model(settings: Settings, run_id: str):
    mlflow.set_tracking_uri(settings.tracking_uri)
    return load_fail_model(f"runs:/{run_id}/model")


def row(result: TrainResult, scorer: str, stage: str = "ALL") -> pd.Series:
    t = result.table
    return t.loc[
        (t["scorer"] == scorer) & (t["stage"] == stage) & (t["asset_class"] == "ALL")
    ].iloc[0]


def test_metrics_make_sense_beside_baselines_and_oracle(trained: Trained) -> None:
    result = trained.result
    model, rule = row(result, "model"), row(result, "ops_rule")
    assert 0 < model["fail_rate"] < 0.2
    assert model["pr_auc"] > 2 * model["fail_rate"]  # far better than guessing
    assert model["pr_auc"] > rule["pr_auc"]
    assert 0.5 < model["roc_auc"] <= 1
    assert model["ece"] < 0.05 and model["brier"] < model["fail_rate"]
    for stage in ("EXECUTION", "ISD_1"):
        oracle, hindsight = row(result, "oracle", stage), row(result, "hindsight", stage)
        mine = row(result, "model", stage)
        assert mine["pr_auc_vs_oracle"] == pytest.approx(mine["pr_auc"] / oracle["pr_auc"])
        assert mine["pr_auc_vs_hindsight"] == pytest.approx(mine["pr_auc"] / hindsight["pr_auc"])
    assert pd.isna(row(result, "model", "CUTOFF")["pr_auc_vs_oracle"]), "no oracle at the cutoff"
    assert set(result.table["stage"]) == {"EXECUTION", "CUTOFF", "ISD_1", "ALL"}
    assert {"EQUITY", "ETF", "GOVT_BOND", "CORP_BOND"} <= set(result.table["asset_class"])
    assert 0.3 < result.cause_accuracy["ALL"] <= 1


def test_the_gate_promotes_only_a_better_model(tmp_path: Path, training_dir: Path) -> None:
    settings = _settings(tmp_path / "home")
    weak = train(training_dir, settings, replace(TRAINING_SPLIT, params=WEAK))
    assert (weak.decision, weak.champion_score) == (CHAMPION, None)  # nothing to beat
    strong = train(training_dir, settings, TRAINING_SPLIT)
    assert strong.decision == CHAMPION and strong.score > strong.champion_score
    again = train(training_dir, settings, replace(TRAINING_SPLIT, params=WEAK))
    assert again.decision == CHALLENGER and again.score < again.champion_score
    client = mlflow.MlflowClient(settings.tracking_uri)
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHAMPION).version) == strong.version
    assert str(client.get_model_version_by_alias(MODEL_NAME, CHALLENGER).version) == again.version
    gate = {
        r.version: client.get_model_version(MODEL_NAME, r.version).tags.get(GATE_TAG)
        for r in (weak, strong, again)
    }
    assert gate[weak.version] == gate[strong.version] == GATE_PASSED
    assert gate[again.version].startswith("held: ")


def test_test_window_labels_cannot_reach_the_model(
    tmp_path: Path, trained: Trained, training_dir: Path
) -> None:
    """Flip every outcome of the test window: the trained model does not change at all."""
    settings, result = trained.settings, trained.result
    dataset = read_dataset(training_dir)
    outcomes = dataset["outcomes"].copy()
    mlflow.set_tracking_uri(settings.tracking_uri)
    test_start = pd.Timestamp(
        mlflow.get_run(result.run_id).data.params["split.test_start"], tz="UTC"
    )
    late = outcomes["known_ts"] >= test_start
    flip = late & outcomes["status"].isin(["SETTLED", "FAILED"])
    failed = outcomes["status"] == "FAILED"
    for rows, (status, reason, days) in (
        (flip & failed, ("SETTLED", None, 0)),
        (flip & ~failed, ("FAILED", "OTHER", 1)),
    ):
        outcomes.loc[rows, "status"] = status
        outcomes.loc[rows, "fail_reason"] = reason
        outcomes.loc[rows, "days_late"] = days
    flipped = write_dataset(dict(dataset, outcomes=outcomes), tmp_path / "flipped")
    other_settings = _settings(tmp_path / "home")
    other = train(flipped, other_settings, TRAINING_SPLIT)

    a, b = _model(settings, result.run_id), _model(other_settings, other.run_id)
    probe = pd.DataFrame(
        np.random.default_rng(0).random((200, len(a.features))), columns=a.features
    )
    np.testing.assert_array_equal(a.uncalibrated(probe), b.uncalibrated(probe))
    np.testing.assert_array_equal(a.predict(probe), b.predict(probe))
