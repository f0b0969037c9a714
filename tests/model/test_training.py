"""Training on a small world: metrics that make sense beside the baselines and the oracle,
the promotion gate's two outcomes, and no leakage from the test window into the model."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from core.errors import InvalidInput
from core.settings import Settings
from features.data.contract import dataset_digest, read_dataset, write_dataset
from tests.conftest import TRAINING_SPLIT, Trained, use_settings
from training.artefacts import GATE_PASSED, GATE_TAG
from training.model import SAMPLING_SETTINGS, ModelParams
from training.tracking import CHALLENGER, CHAMPION, EXPERIMENT, MODEL_NAME, load_fail_model
from training.train import TrainResult, train
from training.tune import SAMPLING_SPACE, SPACE, space

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


def test_family_importance_is_logged_and_tells_signal_from_noise(trained: Trained) -> None:
    importance = trained.result.importance
    assert set(importance.columns) == {"family", "features", "ALL", "EXECUTION", "ISD_1"}
    lost = importance.set_index("family")["ALL"]
    # the families of what is known at the ISD's eve carry signal; nothing that the model
    # cannot use costs it more than noise does
    assert lost.max() > 0.01
    assert lost["lifecycle"] > 0 and lost["inventory"] > 0
    assert lost.min() > -0.02
    client = mlflow.MlflowClient(trained.settings.tracking_uri)
    metrics = client.get_run(trained.result.run_id).data.metrics
    for family, value in lost.items():
        assert metrics[f"family_importance.{family}.ALL"] == pytest.approx(value)
    params = client.get_run(trained.result.run_id).data.params
    assert params["importance.rows"] == str(trained.result.sizes["test"])  # the whole window


def test_a_run_names_the_bytes_it_trained_on(trained: Trained, training_dir: Path) -> None:
    params = (
        mlflow.MlflowClient(trained.settings.tracking_uri)
        .get_run(trained.result.run_id)
        .data.params
    )
    assert params["dataset.fingerprint"] == dataset_digest(training_dir)[:16]
    assert params["dataset.dir"] == str(training_dir.resolve())


def test_permuting_a_family_that_carries_the_signal_costs_ranking() -> None:
    from training.importance import family_importance
    from training.model import fit_fail_model

    rng = np.random.default_rng(1)
    n = 6_000
    rows = pd.DataFrame(
        {
            "inventory_coverage": rng.random(n),  # the signal
            "available_coverage": rng.random(n),
            "holiday_in_window": rng.integers(0, 2, n),  # noise
            "period_end": rng.integers(0, 2, n),
        }
    )
    short = rows["inventory_coverage"].to_numpy() < 0.2
    failed = rng.random(n) < np.where(short, 0.6, 0.03)
    cause = np.where(rng.random(n) < 0.7, "LACK_OF_SECURITIES", "OTHER")
    rows["failed"] = failed
    rows["fail_reason"] = pd.Series(cause).where(failed)
    train_, valid, calib = (np.arange(n) * 3 // n == k for k in range(3))  # runs, as in time
    features = ["inventory_coverage", "available_coverage", "holiday_in_window", "period_end"]
    x = rows[features].to_numpy(dtype=np.float32)
    model = fit_fail_model(x, rows, features, train_, valid, calib, ModelParams(max_trees=50))
    lost = family_importance(model, rows).set_index("family")["ALL"]
    assert lost["inventory"] > 0.2
    assert abs(lost["calendar"]) < 0.02
    # on a sample of the rows (every fail kept, settled rows weighted back): the same reading
    sampled = family_importance(model, rows, max_rows=3_000).set_index("family")["ALL"]
    assert sampled["inventory"] > 0.2
    assert abs(sampled["calendar"]) < 0.02
    assert not sampled.equals(lost)  # it did sample
    # the evaluation's own prediction of the rows, handed over, gives the same figures
    raw = model.uncalibrated(rows)
    pd.testing.assert_frame_equal(
        family_importance(model, rows, raw=raw), family_importance(model, rows)
    )
    again = family_importance(model, rows, max_rows=3_000, raw=raw)
    pd.testing.assert_series_equal(again.set_index("family")["ALL"], sampled)
    with pytest.raises(InvalidInput, match="raw: 5,999 probabilities for 6,000 rows"):
        family_importance(model, rows, raw=raw[1:])


def test_row_sampling_is_goss_or_bagging_never_both() -> None:
    goss = ModelParams().lgb("binary")
    assert (goss["data_sample_strategy"], goss["top_rate"], goss["other_rate"]) == (
        "goss",
        0.2,
        0.1,
    )
    assert "bagging_fraction" not in goss and "bagging_freq" not in goss
    bagging = ModelParams(sampling="bagging", bagging_fraction=0.7).lgb("binary")
    assert (bagging["bagging_fraction"], bagging["bagging_freq"]) == (0.7, 1)
    assert "data_sample_strategy" not in bagging and "top_rate" not in bagging
    assert "bagging_fraction" not in ModelParams().in_use()
    assert "top_rate" not in ModelParams(sampling="bagging").in_use()
    assert set(space(ModelParams(sampling="bagging"))) - set(SPACE) == {"bagging_fraction"}
    assert set(space(ModelParams())) - set(SPACE) == {"top_rate", "other_rate"}
    for sampling, names in SAMPLING_SETTINGS.items():  # the search varies what it reads
        assert set(SAMPLING_SPACE[sampling]) == set(names)


def test_train_tune_searches_on_the_validation_slice_and_logs_every_trial(
    tmp_path: Path, training_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    settings = _settings(tmp_path / "home")
    use_settings(settings, monkeypatch)
    monkeypatch.setenv("FAILCAST_TUNE_TRIALS", "3")
    args = ["train", "--data", str(training_dir), "--test-days", "14"]
    out = CliRunner().invoke(app, [*args, "--calib-days", "7", "--valid-days", "7", "--tune"])
    assert out.exit_code == 0, out.output
    assert "What each family of features is worth" in out.output
    assert "Hyperparameter search: 3 trials" in out.output

    client = mlflow.MlflowClient(settings.tracking_uri)
    (parent,) = client.search_runs(
        [client.get_experiment_by_name(EXPERIMENT).experiment_id],
        filter_string="params.`tune.trials` = '3'",
    )
    children = client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{parent.info.run_id}'",
    )
    assert len(children) == 3
    scores = [c.data.metrics["valid.pr_auc"] for c in children]
    first = min(children, key=lambda c: c.info.start_time)
    # trial 0 ran the settings in use; the best trial is what the model was fitted with
    assert first.data.params["model.num_leaves"] == str(ModelParams().num_leaves)
    assert parent.data.metrics["tune.valid_pr_auc.best"] == pytest.approx(max(scores))
    assert parent.data.metrics["tune.valid_pr_auc.start"] == pytest.approx(
        first.data.metrics["valid.pr_auc"]
    )
    best = max(children, key=lambda c: c.data.metrics["valid.pr_auc"])
    assert parent.data.params["model.num_leaves"] == best.data.params["model.num_leaves"]
    # the row sampling in use (GOSS) has its own settings searched, and no bagging fraction
    assert first.data.params["model.top_rate"] == str(ModelParams().top_rate)
    assert parent.data.params["tune.chosen.other_rate"] == best.data.params["model.other_rate"]
    assert "model.bagging_fraction" not in best.data.params
    assert parent.data.params["model.sampling"] == "goss"
    assert "model.bagging_fraction" not in parent.data.params  # not applied: not logged
    assert "tuning_trials.csv" in {a.path for a in client.list_artifacts(parent.info.run_id)}


def test_training_on_a_dask_cluster_matches_training_here(
    tmp_path: Path, training_dir: Path, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    """FAILCAST_TRAIN_ENGINE=dask: a local Dask cluster of two processes boosts the rounds an
    early-stopped run picked on a sample, and the model ranks as the one trained here does."""
    from typer.testing import CliRunner

    from pipelines.cli import app

    settings = _settings(tmp_path / "home")
    use_settings(settings, monkeypatch)
    monkeypatch.setenv("FAILCAST_TRAIN_ENGINE", "dask")
    monkeypatch.setenv("FAILCAST_DASK_WORKERS", "2")
    monkeypatch.setenv("FAILCAST_DASK_SAMPLE_ROWS", "8000")
    split = ["--test-days", "14", "--calib-days", "7", "--valid-days", "7"]
    out = CliRunner().invoke(app, ["train", "--data", str(training_dir), *split, "--json"])
    assert out.exit_code == 0, out.output
    summary = json.loads(out.output[out.output.index("{") :])

    client = mlflow.MlflowClient(settings.tracking_uri)
    params = client.get_run(summary["run_id"]).data.params
    assert params["engine"] == "dask"
    assert int(params["dask.sample_rows"]) == 8000 < int(params["rows.train"])
    assert int(params["trees"]) == int(params["dask.rounds_from_sample"]) > 1
    model = next(m for m in summary["metrics"] if _overall_model(m))
    here = row(trained.result, "model")
    assert model["pr_auc"] == pytest.approx(here["pr_auc"], abs=0.03)
    assert model["ece"] < 0.05


def test_an_unreachable_dask_scheduler_is_named_before_any_work(
    tmp_path: Path, training_dir: Path
) -> None:
    from core.errors import Unavailable
    from training.distributed import DaskTraining

    settings = _settings(tmp_path / "home")
    config = replace(TRAINING_SPLIT, dask=DaskTraining(scheduler="tcp://127.0.0.1:9"))
    with pytest.raises(Unavailable, match=r"Dask scheduler at tcp://127.0.0.1:9 .*does not answer"):
        train(training_dir, settings, config)
    assert not (settings.feature_dir / "tables").exists()  # nothing built, nothing retrieved


def _overall_model(metric: dict) -> bool:
    return (
        metric["scorer"] == "model" and metric["stage"] == "ALL" and metric["asset_class"] == "ALL"
    )


def test_sampling_settled_trades_keeps_every_fail_and_every_later_trade(training_dir: Path) -> None:
    from training.dataset import decided, sample_settled, split_starts

    dataset = read_dataset(training_dir, ["trades", "outcomes"])
    only = decided(dataset)
    start = split_starts(dataset["trades"].loc[only, "trade_date"], 14, 7, 7)["valid"]
    kept = sample_settled(dataset, only, start, 0.25, seed=7)
    status = dataset["trades"][["trade_id"]].merge(dataset["outcomes"], how="left")["status"]
    early = (dataset["trades"]["trade_date"] < start).to_numpy()
    settled = (status == "SETTLED").to_numpy()
    assert (kept <= only).all()
    assert kept[~(settled & early) & only].all()  # fails, and everything from valid on
    share = kept[settled & early].mean()
    assert 0.2 < share < 0.3
    with pytest.raises(InvalidInput, match=r"share of settled trades kept must be in \(0, 1\]"):
        sample_settled(dataset, only, start, 0.0, seed=7)


def test_training_on_a_share_of_the_settled_trades_ranks_as_on_all(
    tmp_path: Path, training_dir: Path, trained: Trained, monkeypatch: pytest.MonkeyPatch
) -> None:
    from typer.testing import CliRunner

    from pipelines.cli import app

    settings = _settings(tmp_path / "home")
    use_settings(settings, monkeypatch)
    split = ["--test-days", "14", "--calib-days", "7", "--valid-days", "7"]
    args = ["train", "--data", str(training_dir), *split, "--settled-share", "0.3"]
    out = CliRunner().invoke(app, args)
    assert out.exit_code == 0, out.output
    said = " ".join(out.output.split())  # the console wraps its lines
    assert "30% of the settled trades before the validation slice" in said

    client = mlflow.MlflowClient(settings.tracking_uri)
    (run,) = client.search_runs(
        [client.get_experiment_by_name(EXPERIMENT).experiment_id],
        filter_string="params.`sample.settled_share` = '0.3'",
    )
    full = trained.result.sizes
    sampled = {k: int(run.data.params[f"rows.{k}"]) for k in ("train", "valid", "calib", "test")}
    assert sampled["train"] < 0.5 * full["train"]
    assert {k: sampled[k] for k in ("valid", "calib", "test")} == {
        k: full[k] for k in ("valid", "calib", "test")
    }
    here = row(trained.result, "model")
    assert run.data.metrics["model.ALL.pr_auc"] == pytest.approx(here["pr_auc"], abs=0.03)
    assert run.data.metrics["model.ALL.ece"] < 0.05  # calibrated on an unsampled slice


def test_cause_accuracy_predicts_and_reads_the_failed_rows_alone() -> None:
    from training.evaluate import cause_accuracy

    rows = pd.DataFrame(
        {
            "failed": [True, False, True, True, False, True],
            "stage": ["EXECUTION", "EXECUTION", "EXECUTION", "ISD_1", "ISD_1", "ISD_1"],
            "fail_reason": ["SSI", None, "LATE", "SSI", None, "SSI"],
        }
    )
    seen: list[int] = []

    def predict_cause(frame: pd.DataFrame) -> np.ndarray:
        seen.extend(frame.index)
        return np.full(len(frame), "SSI", dtype=object)

    got = cause_accuracy(rows, predict_cause)
    assert seen == [0, 2, 3, 5]  # settled rows are never predicted
    assert got["ALL"] == pytest.approx(3 / 4)
    assert got["EXECUTION"] == pytest.approx(1 / 2) and got["ISD_1"] == 1.0
    assert np.isnan(got["CUTOFF"])  # no failed row at the stage
