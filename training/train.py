"""`failcast train`: features -> labelled snapshots -> time split -> LightGBM + calibration +
cause head -> baselines and oracle on the test window -> MLflow run, registry, promotion gate."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt
import mlflow
import numpy as np
import pandas as pd
from mlflow import MlflowClient

from core.costs import expected_days_late
from core.memory import heap_frozen, release_memory
from core.settings import Settings, get_settings
from core.stages import STAGES
from features.data.contract import dataset_digest, read_dataset
from features.reference import MANIFEST, tables_dir
from features.repo import FAIL_MODEL_V1, definitions
from training.artefacts import GATE_PASSED, GATE_TAG
from training.baselines import fit_logistic, logistic_scores, ops_rule_score
from training.dataset import (
    decided,
    labelled_matrix,
    sample_settled,
    split_starts,
    time_split,
    with_features,
)
from training.distributed import DaskTraining, check_scheduler
from training.evaluate import Scorer, cause_accuracy, evaluation_table, truth_scorers
from training.importance import family_importance
from training.metrics import score_metrics
from training.model import FailModel, ModelParams, fit_fail_model
from training.plots import calibration_figure, importance_figure, pr_figure, shap_figure
from training.tracking import (
    CHALLENGER,
    CHAMPION,
    MODEL_NAME,
    dataset_fingerprint,
    load_fail_model,
    log_fail_model,
    tracking_client,
)
from training.tune import TuneResult, tune

__all__ = ["GATE_METRIC", "TrainConfig", "TrainResult", "ensure_features", "train"]

GATE_METRIC = "pr_auc"
"""The champion/challenger gate compares PR-AUC over every (trade, stage) of the test window."""
LOGISTIC_MAX_ROWS = 300_000  # the baseline is a yardstick; a sample of this size is plenty
TRAINING_TABLES = ("trades", "events", "outcomes", "instruments", "counterparties")
"""What training holds of a dataset: positions, SSIs and holidays reach the model through the
feature store and the reference; the evaluation reads the truth table apart, after the fit."""

Step = Callable[[str, float], None]


@dataclass(frozen=True)
class TrainConfig:
    test_days: int = 40
    calib_days: int = 20
    valid_days: int = 20
    params: ModelParams = field(default_factory=ModelParams)
    tune_trials: int = 0  # a hyperparameter search of this many trials first (0: none)
    tune_timeout_seconds: float | None = None  # and no longer than this
    dask: DaskTraining | None = None  # the fail booster on a Dask cluster (None: here)
    # keep this share of the training slice's settled trades, weighted back (1: all of them)
    settled_share: float = 1.0
    # family importance on a sample of this many test rows, every fail kept (None: all rows)
    importance_rows: int | None = None


@dataclass
class TrainResult:
    run_id: str
    version: str
    decision: str
    score: float
    champion_score: float | None
    table: pd.DataFrame
    cause_accuracy: dict[str, float]
    sizes: dict[str, int]
    seconds: dict[str, float]
    importance: pd.DataFrame  # PR-AUC lost per family permuted (training.importance)
    tuned: TuneResult | None = None  # the hyperparameter search, when there was one

    def summary(self) -> dict[str, Any]:
        tables = ("table", "importance", "tuned")
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in tables}
        out["metrics"] = json.loads(self.table.to_json(orient="records"))
        out["family_importance"] = dict(
            zip(self.importance["family"], self.importance["ALL"], strict=True)
        )
        if self.tuned is not None:
            out["tuning"] = {
                "trials": len(self.tuned.trials),
                "valid_pr_auc": {
                    "start": self.tuned.baseline_pr_auc,
                    "best": self.tuned.best_pr_auc,
                },
                "chosen": {k: getattr(self.tuned.params, k) for k in self.tuned.searched},
                "importance": self.tuned.importance,
            }
        return out


def ensure_features(data_dir: Path, settings: Settings, step: Step) -> str | None:
    """Build the feature store from ``data_dir`` unless the last build used exactly this
    dataset (unchanged since) and the feature definitions in code. Returns the
    ``dataset_digest`` of the dataset the build validated (None from a build that did not
    record it), for ``read_dataset(validated=...)``."""
    from features.build import build_features

    out = tables_dir(settings)
    if (out / MANIFEST).exists() and data_dir.is_dir():
        built = json.loads((out / MANIFEST).read_text())
        newest = max(p.stat().st_mtime for p in data_dir.iterdir())
        if (
            built["data_dir"] == str(data_dir.resolve())
            and (out / MANIFEST).stat().st_mtime > newest
            and built.get("features") == definitions(out).feature_names()
        ):
            digest = built.get("validated_digest")
            return digest if isinstance(digest, str) else None
    return build_features(data_dir, settings, step).validated_digest


def _flat(table: pd.DataFrame) -> dict[str, float]:
    """MLflow metric names: scorer.stage.metric, over all asset classes."""
    out = {}
    for record in table.loc[table["asset_class"] == "ALL"].to_dict("records"):
        for metric, value in record.items():
            if metric not in ("scorer", "stage", "asset_class") and pd.notna(value):
                out[f"{record['scorer']}.{record['stage']}.{metric}"] = float(value)
    return out


def _gate(
    predicted: np.ndarray, test: pd.DataFrame, client: MlflowClient
) -> tuple[float, float | None]:
    """The new model's score (from its ``predicted`` probabilities) and the current
    champion's on the same test rows."""
    y, penalty = test["failed"].to_numpy(), test["penalty"].to_numpy(float)
    new = score_metrics(y, predicted, penalty)[GATE_METRIC]
    try:
        client.get_model_version_by_alias(MODEL_NAME, CHAMPION)
    except mlflow.exceptions.MlflowException:
        return new, None
    champion = load_fail_model(f"models:/{MODEL_NAME}@{CHAMPION}")
    if not set(champion.features) <= set(test.columns):
        return new, None  # the champion cannot score this window: its features are gone
    return new, score_metrics(y, champion.predict(test), penalty)[GATE_METRIC]


def train(
    data_dir: Path,
    settings: Settings | None = None,
    config: TrainConfig = TrainConfig(),
    step: Step = lambda name, fraction: None,
) -> TrainResult:
    """Build the features if they are not built from these bytes, train, evaluate and gate a
    challenger, and register it (the champion if it passes the gate)."""
    with heap_frozen():  # the libraries' objects stay out of the stages' collections
        return _train(data_dir, settings or get_settings(), config, step)


def _train(data_dir: Path, settings: Settings, config: TrainConfig, step: Step) -> TrainResult:
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    if config.dask is not None:
        check_scheduler(config.dask)  # before hours of retrieval, not after
    validated = ensure_features(data_dir, settings, lambda n, f: step(f"features: {n}", 0.2 * f))
    digest = dataset_digest(data_dir)  # one hash: matched with the build's, and logged
    dataset = read_dataset(data_dir, TRAINING_TABLES, validated, digest)
    only = decided(dataset)  # only trades with an outcome teach anything
    if config.settled_share < 1:
        trades = dataset["trades"].loc[only, "trade_date"]
        valid_start = split_starts(trades, config.test_days, config.calib_days, config.valid_days)[
            "valid"
        ]
        only = sample_settled(dataset, only, valid_start, config.settled_share, config.params.seed)
    step("labels and costs", 0.2)
    labels, matrix = labelled_matrix(  # the features, and the trades' labels and costs
        dataset, only, settings, lambda n, f: step(n, 0.2 + 0.4 * f)
    )
    names, x, layout = matrix.names, matrix.x, matrix.rows
    del dataset, matrix  # what training needs of them is in x, names and the layout
    release_memory()  # theirs and the query engine's freed pages, before the rows' labels
    rows = labels.rows(layout)  # labels and costs, row for row with the features
    del labels, layout
    split = time_split(rows, config.test_days, config.calib_days, config.valid_days)
    weights = None  # the settled rows sampled out, put back by weight
    if config.settled_share < 1:
        settled = ~rows["failed"].to_numpy(dtype=bool)
        weights = np.where(split["train"] & settled, 1 / config.settled_share, 1.0)
    seconds["features"] = time.perf_counter() - t0

    client = tracking_client(settings)
    with mlflow.start_run() as run:  # one run from the search to the gate
        params, tuned = config.params, None
        if config.tune_trials:
            t1 = time.perf_counter()
            step("tune", 0.6)
            tuned = tune(
                x,
                rows,
                names,
                split["train"],
                split["valid"],
                params,
                weights,
                config.tune_trials,
                config.tune_timeout_seconds,
                lambda n, best: step(f"tune: trial {n + 1}, best PR-AUC {best:.4f}", 0.6),
            )
            params = tuned.params
            seconds["tune"] = time.perf_counter() - t1

        t1 = time.perf_counter()
        step("fit LightGBM", 0.65)
        model = fit_fail_model(
            x,
            rows,
            names,
            split["train"],
            split["valid"],
            split["calib"],
            params,
            config.dask,
            weights,
        )
        release_memory()  # the binned slices' freed pages, before the baseline's copies
        first = (rows["stage"] == STAGES[0]).to_numpy()
        fails = rows.loc[split["train"] & rows["failed"].to_numpy(dtype=bool) & first]
        model.meta["expected_days_late"] = expected_days_late(
            fails["asset_class"], fails["days_late"]
        )
        step("baselines", 0.75)
        sample = np.flatnonzero(split["train"])
        if sample.size > LOGISTIC_MAX_ROWS:
            rng = np.random.default_rng(params.seed)
            sample = np.sort(rng.choice(sample, LOGISTIC_MAX_ROWS, replace=False))
        baseline_x = pd.DataFrame(x[sample], columns=names)
        baseline_y = rows["failed"].to_numpy()[sample]
        at_test = np.flatnonzero(split["test"])
        test = with_features(rows.iloc[at_test].reset_index(drop=True), x[at_test], names)
        # the baseline's rows and the test window are all that is read of x and rows from
        # here on: the training set's memory goes back before the baseline's fit
        del x, rows, fails
        release_memory()
        logistic = fit_logistic(baseline_x, baseline_y)
        del baseline_x, baseline_y
        seconds["fit"] = time.perf_counter() - t1
        release_memory()  # the fits' scratch, before the test window is scored

        step("evaluate", 0.85)
        t1 = time.perf_counter()
        raw = model.uncalibrated(test)  # the booster's own: family importance starts from it
        scorers = {
            "model": (model.calibrate(raw), True),
            "ops_rule": (ops_rule_score(test), False),
            "logistic": (logistic_scores(logistic, test[names]), True),
        }
        scorers |= truth_scorers(data_dir, test)
        table = evaluation_table(test, scorers)
        causes = cause_accuracy(test, model.predict_cause)
        seconds["evaluate"] = time.perf_counter() - t1
        step("family importance", 0.87)
        t1 = time.perf_counter()
        importance = family_importance(
            model,
            test,
            {s: (test["stage"] == s).to_numpy() for s in (STAGES[0], STAGES[-1])},
            max_rows=config.importance_rows,
            raw=raw,
        )
        seconds["importance"] = time.perf_counter() - t1

        step("log to MLflow", 0.9)
        t1 = time.perf_counter()
        mlflow.log_params(
            {
                **{f"model.{k}": v for k, v in params.in_use().items()},
                "split.test_days": config.test_days,
                "split.calib_days": config.calib_days,
                "split.valid_days": config.valid_days,
                **{f"split.{k}_start": str(v.date()) for k, v in split.starts.items()},
                **{f"rows.{k}": v for k, v in split.sizes().items()},
                "trees": model.meta["trees"],
                "engine": model.meta["engine"],
                **{
                    f"dask.{k}": model.meta[k]
                    for k in ("rounds_from_sample", "sample_rows")
                    if k in model.meta
                },
                "features": len(names),
                "feature_service": FAIL_MODEL_V1,
                "dataset.dir": str(data_dir.resolve()),
                "dataset.fingerprint": dataset_fingerprint(digest),
                "tune.trials": len(tuned.trials) if tuned else 0,
                "sample.settled_share": config.settled_share,
                "importance.rows": min(config.importance_rows or len(test), len(test)),
            }
        )
        if tuned is not None:
            _log_tuning(tuned)
        mlflow.log_metrics(_flat(table))
        mlflow.log_metrics({f"cause_accuracy.{k}": v for k, v in causes.items()})
        mlflow.log_metrics(
            {
                f"family_importance.{r['family']}.{stage}": r[stage]
                for r in importance.to_dict("records")
                for stage in importance.columns[2:]
            }
        )
        _log_artifacts(model, test, scorers, table, importance)
        version = log_fail_model(model, test)
        score, champion_score = _gate(scorers["model"][0], test, client)
        decision = CHAMPION if champion_score is None or score > champion_score else CHALLENGER
        # the decision on the version itself: the service serves only what the gate passed
        verdict = GATE_PASSED if decision == CHAMPION else f"held: {GATE_METRIC} {score:.4f}"
        client.set_model_version_tag(MODEL_NAME, version, GATE_TAG, verdict)
        client.set_registered_model_alias(MODEL_NAME, decision, version)
        mlflow.log_param("gate.decision", decision)
        mlflow.log_metric(f"gate.new_{GATE_METRIC}", score)
        if champion_score is not None:
            mlflow.log_metric(f"gate.champion_{GATE_METRIC}", champion_score)
        seconds["log"] = time.perf_counter() - t1
    seconds["total"] = time.perf_counter() - t0
    step("done", 1.0)
    return TrainResult(
        run.info.run_id,
        version,
        decision,
        score,
        champion_score,
        table,
        causes,
        split.sizes(),
        {k: round(v, 1) for k, v in seconds.items()},
        importance,
        tuned,
    )


def _log_tuning(tuned: TuneResult) -> None:
    """The search on the parent run: what was chosen, how much it gained on the validation
    slice, and which settings mattered."""
    mlflow.log_metrics(
        {
            "tune.valid_pr_auc.best": tuned.best_pr_auc,
            "tune.valid_pr_auc.start": tuned.baseline_pr_auc,
            **{f"tune.importance.{k}": v for k, v in tuned.importance.items()},
        }
    )
    mlflow.log_params({f"tune.chosen.{k}": getattr(tuned.params, k) for k in tuned.searched})
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tuning_trials.csv"
        tuned.trials.to_csv(path, index=False)
        mlflow.log_artifact(str(path))


def _log_artifacts(
    model: FailModel,
    test: pd.DataFrame,
    scorers: dict[str, Scorer],
    table: pd.DataFrame,
    importance: pd.DataFrame,
) -> None:
    y = test["failed"].to_numpy()
    at_execution = (test["stage"] == "EXECUTION").to_numpy()
    curves = {name: score[at_execution] for name, (score, _) in scorers.items()}
    figures = {
        "pr_curve.png": pr_figure(y[at_execution], curves, "PR curve at execution"),
        "calibration.png": calibration_figure(y, scorers["model"][0]),
        "feature_importance.png": importance_figure(model),
        "shap_summary.png": shap_figure(model, test),
    }
    for name, figure in figures.items():
        mlflow.log_figure(figure, name)
        plt.close(figure)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "metrics_by_stage_and_asset_class.csv"
        table.to_csv(path, index=False)
        mlflow.log_artifact(str(path))
        html = Path(tmp) / "metrics_by_stage_and_asset_class.html"
        html.write_text(table.round(4).to_html(index=False))
        mlflow.log_artifact(str(html))
        families = Path(tmp) / "family_importance.csv"
        importance.to_csv(families, index=False)
        mlflow.log_artifact(str(families))
