"""The retraining pipeline around the model, end to end: the MLflow run a data scientist
reads, evaluation of another world and the backtest through the CLI, the analysis notebook,
and tracking on the real PostgreSQL server."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import mlflow
import pytest
from typer.testing import CliRunner

from core.settings import Settings
from tests.conftest import REPO, TRAINING_SPLIT, Trained, use_settings
from tests.model.test_training import WEAK, row
from training.tracking import CHAMPION, MODEL_NAME, load_fail_model
from training.train import train


def test_run_logs_what_a_data_scientist_needs(trained: Trained) -> None:
    settings, result = trained.settings, trained.result
    mlflow.set_tracking_uri(settings.tracking_uri)
    run = mlflow.get_run(result.run_id)
    assert run.data.params["feature_service"] == "fail_model_v1"
    assert len(run.data.params["dataset.fingerprint"]) == 16
    assert run.data.params["gate.decision"] == CHAMPION
    assert run.data.metrics["model.EXECUTION.pr_auc"] == pytest.approx(
        row(result, "model", "EXECUTION")["pr_auc"]
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


def test_evaluate_scores_another_world_with_the_champion(
    trained: Trained, small_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pipelines.cli import app

    settings = trained.settings
    use_settings(settings, monkeypatch)
    result = CliRunner().invoke(app, ["evaluate", "--data", str(small_dir)])
    assert result.exit_code == 0, result.output
    assert "PR-AUC" in result.output and "oracle" in result.output
    assert (settings.home / "evaluations").is_dir()


def test_model_analysis_notebook_runs_against_the_champion(
    trained: Trained, training_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbformat
    from nbclient import NotebookClient

    settings = trained.settings
    use_settings(settings, monkeypatch)
    monkeypatch.setenv("FAILCAST_NOTEBOOK_DATA", str(training_dir))
    path = REPO / "notebooks" / "model_analysis.ipynb"
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
    settings = Settings(home=tmp_path / "home", feast_project="pg_tracking").model_copy(
        update={"mlflow_tracking_uri": postgres_url}
    )
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
    trained: Trained, training_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from features.data.contract import read_dataset
    from pipelines.cli import app

    settings = trained.settings
    use_settings(settings, monkeypatch)
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
    queues = {q["queue"]: q for q in small["queues"]}
    assert {q.split(" ")[0] for q in queues} == {"model", "ops", "oracle", "hindsight"}
    for q in queues.values():
        assert q["queued"] <= 10 * small["settlement_dates"]
        assert 0 <= q["penalty_share"] <= 1 and q["fails_caught"] <= small["fails"]
        assert 0 <= q["cost_share"] <= 1 and q["cost_caught_usd"] >= 0
    by_regime = "model (expected cost by market regime)"
    assert "model (expected penalty, one CSDR schedule)" in queues
    model_all = next(q for q in everything["queues"] if q["queue"] == by_regime)
    assert model_all["fails_caught"] == everything["fails"], "an unbounded queue holds every fail"
    assert model_all["penalty_share"] == pytest.approx(1.0)
    assert model_all["cost_share"] == pytest.approx(1.0)
    assert model_all["cost_share"] >= queues[by_regime]["cost_share"]

    refused = CliRunner().invoke(
        app, ["backtest", "--data", str(training_dir), "--from", "1999-01-04", "--to", "1999-01-08"]
    )
    assert refused.exit_code == 1 and "no trade settles between 1999-01-04" in refused.output
