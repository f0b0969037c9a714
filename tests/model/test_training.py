"""Training end to end on a small world: metrics that make sense, MLflow run and registry,
the promotion gate's two outcomes, no leakage, evaluation on another world, behaviour."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from core.settings import Settings
from features.data.contract import read_dataset, write_dataset
from tests.conftest import TRAINING_SPLIT
from training.model import ModelParams
from training.tracking import CHALLENGER, CHAMPION, MODEL_NAME, load_fail_model
from training.train import TrainResult, train

WEAK = ModelParams(num_leaves=2, max_trees=2, early_stopping_rounds=1, cause_max_rounds=2)


def _settings(home: Path) -> Settings:
    return Settings(home=home, feast_project="t" + home.name.replace("-", "_")[-20:])


def _use(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    """Point the environment (and so the CLI, or a notebook's kernel) at these settings."""
    from core.settings import get_settings

    monkeypatch.setenv("FAILCAST_HOME", str(settings.home))
    monkeypatch.setenv("FAILCAST_FEAST_PROJECT", settings.feast_project)
    get_settings.cache_clear()


def _model(settings: Settings, run_id: str):
    mlflow.set_tracking_uri(settings.tracking_uri)
    return load_fail_model(f"runs:/{run_id}/model")


def _row(result: TrainResult, scorer: str, stage: str = "ALL") -> pd.Series:
    t = result.table
    return t.loc[
        (t["scorer"] == scorer) & (t["stage"] == stage) & (t["asset_class"] == "ALL")
    ].iloc[0]


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, training_dir: Path):
    settings = _settings(tmp_path_factory.mktemp("trained"))
    return settings, train(training_dir, settings, TRAINING_SPLIT)


def test_metrics_make_sense_beside_baselines_and_oracle(trained) -> None:
    _, result = trained
    model, rule = _row(result, "model"), _row(result, "ops_rule")
    assert 0 < model["fail_rate"] < 0.2
    assert model["pr_auc"] > 2 * model["fail_rate"]  # far better than guessing
    assert model["pr_auc"] > rule["pr_auc"]
    assert 0.5 < model["roc_auc"] <= 1
    assert model["ece"] < 0.05 and model["brier"] < model["fail_rate"]
    for stage in ("EXECUTION", "ISD_1"):
        oracle, hindsight = _row(result, "oracle", stage), _row(result, "hindsight", stage)
        mine = _row(result, "model", stage)
        assert mine["pr_auc_vs_oracle"] == pytest.approx(mine["pr_auc"] / oracle["pr_auc"])
        assert mine["pr_auc_vs_hindsight"] == pytest.approx(mine["pr_auc"] / hindsight["pr_auc"])
    assert pd.isna(_row(result, "model", "CUTOFF")["pr_auc_vs_oracle"]), "no oracle at the cutoff"
    assert set(result.table["stage"]) == {"EXECUTION", "CUTOFF", "ISD_1", "ALL"}
    assert {"EQUITY", "ETF", "GOVT_BOND", "CORP_BOND"} <= set(result.table["asset_class"])
    assert 0.3 < result.cause_accuracy["ALL"] <= 1


def test_run_logs_what_a_data_scientist_needs(trained) -> None:
    settings, result = trained
    mlflow.set_tracking_uri(settings.tracking_uri)
    run = mlflow.get_run(result.run_id)
    assert run.data.params["feature_service"] == "fail_model_v1"
    assert len(run.data.params["dataset.fingerprint"]) == 16
    assert run.data.params["gate.decision"] == CHAMPION
    assert run.data.metrics["model.EXECUTION.pr_auc"] == pytest.approx(
        _row(result, "model", "EXECUTION")["pr_auc"]
    )
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(result.run_id)}
    assert {
        "pr_curve.png",
        "calibration.png",
        "shap_summary.png",
        "feature_importance.png",
        "metrics_by_stage_and_asset_class.csv",
    } <= artifacts
    assert str(settings.artifact_dir) in run.info.artifact_uri


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


def test_test_window_labels_cannot_reach_the_model(
    tmp_path: Path, trained, training_dir: Path
) -> None:
    """Flip every outcome of the test window: the trained model does not change at all."""
    settings, result = trained
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


def test_evaluate_scores_another_world_with_the_champion(
    trained, small_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.cli import app

    settings, _ = trained
    _use(settings, monkeypatch)
    result = CliRunner().invoke(app, ["evaluate", "--data", str(small_dir)])
    assert result.exit_code == 0, result.output
    assert "PR-AUC" in result.output and "oracle" in result.output
    assert (settings.home / "evaluations").is_dir()


@pytest.fixture(scope="module")
def cutoff_rows(trained, training_dir: Path) -> pd.DataFrame:
    from features.reference import Reference
    from features.retrieval import training_frame
    from features.store import open_store

    settings, _ = trained
    dataset = read_dataset(training_dir)
    with open_store(settings) as store:
        return training_frame(store, Reference.load(settings), dataset, stages=["CUTOFF"])


def test_behaviour_unaffirmed_at_the_cutoff_raises_risk(trained, cutoff_rows) -> None:
    settings, _ = trained
    mlflow.set_tracking_uri(settings.tracking_uri)
    model = load_fail_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    affirmed = cutoff_rows.assign(affirmed=1, affirmed_late=0)
    unaffirmed = cutoff_rows.assign(affirmed=0, affirmed_late=1)
    assert model.predict(unaffirmed).mean() > 1.2 * model.predict(affirmed).mean()


def test_behaviour_uncovered_sells_are_riskier(trained, cutoff_rows) -> None:
    settings, _ = trained
    mlflow.set_tracking_uri(settings.tracking_uri)
    model = load_fail_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    sells = cutoff_rows.loc[cutoff_rows["is_sell"] == 1]
    covered = sells.assign(inventory_coverage=3.0, available_coverage=3.0)
    short = sells.assign(inventory_coverage=0.2, available_coverage=0.1)
    assert model.predict(short).mean() > 2 * model.predict(covered).mean()


def test_model_analysis_notebook_runs_against_the_champion(
    trained, training_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    settings, _ = trained
    _use(settings, monkeypatch)
    monkeypatch.setenv("FAILCAST_NOTEBOOK_DATA", str(training_dir))
    path = Path(__file__).resolve().parents[2] / "notebooks" / "model_analysis.ipynb"
    notebook = nbformat.read(path, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3").execute()
    outputs = [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in outputs)
    assert "PR-AUC logged" in text and "reproduced" in text
    assert any("image/png" in o.get("data", {}) for o in outputs)  # the SHAP dependence plots


def test_mlflow_on_postgresql_tracks_and_registers(
    tmp_path: Path, training_dir: Path, postgres_url: str
) -> None:
    settings = _settings(tmp_path / "home").model_copy(update={"mlflow_tracking_uri": postgres_url})
    result = train(training_dir, settings, replace(TRAINING_SPLIT, params=WEAK))
    client = mlflow.MlflowClient(postgres_url)
    assert client.get_run(result.run_id).data.params["gate.decision"] == CHAMPION
    version = client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    assert str(version.version) == result.version
    assert not (settings.home / "mlflow.db").exists()  # nothing fell back to SQLite
    mlflow.set_tracking_uri(postgres_url)
    model = load_fail_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    assert model.features and model.meta["trees"] >= 1


def test_backtest_replays_the_queue_over_a_period(
    trained, training_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from features.data.contract import read_dataset
    from pipelines.cli import app

    settings, _ = trained
    _use(settings, monkeypatch)
    dates = sorted(read_dataset(training_dir, ["trades"])["trades"]["settlement_date"].unique())
    start, end = (f"{d:%Y-%m-%d}" for d in (dates[-16], dates[-3]))

    def run(capacity: int) -> dict:
        args = ["backtest", "--data", str(training_dir), "--from", start, "--to", end]
        done = CliRunner().invoke(app, [*args, "--capacity", str(capacity), "--json"])
        assert done.exit_code == 0, done.output
        return json.loads(done.stdout)

    small, everything = run(10), run(100_000)
    assert small["settlement_dates"] == 14 and small["fails"] > 0
    shares = [s["fails_flagged_by_then"] for s in small["stages"]]
    assert shares == sorted(shares) and 0 < shares[-1] <= 1, "flags only accumulate"
    assert small["median_lead_hours"] > 0
    queues = {q["queue"].split(" ")[0]: q for q in small["queues"]}
    assert set(queues) == {"model", "ops", "oracle", "hindsight"}
    for q in queues.values():
        assert q["queued"] <= 10 * small["settlement_dates"]
        assert 0 <= q["penalty_share"] <= 1 and q["fails_caught"] <= small["fails"]
    model_all = next(q for q in everything["queues"] if q["queue"].startswith("model"))
    assert model_all["fails_caught"] == everything["fails"], "an unbounded queue holds every fail"
    assert model_all["penalty_share"] == pytest.approx(1.0)
    assert model_all["penalty_share"] >= queues["model"]["penalty_share"]

    refused = CliRunner().invoke(
        app, ["backtest", "--data", str(training_dir), "--from", "1999-01-04", "--to", "1999-01-08"]
    )
    assert refused.exit_code == 1 and "no trade settles between 1999-01-04" in refused.output
