"""`failcast evaluate`: score any dataset with a registered model (a model trained on one
world can be judged on another), beside the ops rule and, on simulated data, the oracle."""

from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from core.errors import NotFound
from core.settings import Settings, get_settings
from features.data.contract import Dataset, read_dataset
from features.reference import Reference
from features.retrieval import training_matrix
from features.store import open_store
from training.baselines import ops_rule_score
from training.dataset import labelled
from training.evaluate import cause_accuracy, evaluation_table, truth_scorers
from training.model import FailModel
from training.tracking import CHAMPION, MODEL_NAME, dataset_fingerprint, load_fail_model
from training.train import Step, ensure_features

__all__ = ["evaluate_dataset", "load_model", "snapshots"]


def load_model(settings: Settings, model_uri: str | None = None) -> FailModel:
    """The model at ``model_uri``, by default the registry's champion."""
    mlflow.set_tracking_uri(settings.tracking_uri)
    uri = model_uri or f"models:/{MODEL_NAME}@{CHAMPION}"
    try:
        return load_fail_model(uri)
    except mlflow.exceptions.MlflowException as exc:
        raise NotFound(f"model {uri}: {exc.message}") from exc


def snapshots(
    data_dir: Path,
    dataset: Dataset,
    settings: Settings,
    step: Step = lambda n, f: None,
    only: np.ndarray | None = None,
) -> pd.DataFrame:
    """Point-in-time (trade, stage) feature rows of ``dataset``'s trades (those the mask
    ``only`` selects, by default all), the others counting for the day's state, from a feature
    store of the dataset's own: the serving store stays as it is."""
    scratch = settings.model_copy(
        update={
            "home": settings.home.expanduser() / "evaluations" / dataset_fingerprint(data_dir),
            "mlflow_tracking_uri": settings.tracking_uri,
            "online_store": "sqlite",
            "registry_url": None,
        }
    )
    ensure_features(data_dir, scratch, lambda n, f: step(f"features: {n}", 0.3 * f))
    with open_store(scratch) as store:
        matrix = training_matrix(
            store,
            Reference.load(scratch),
            dataset,
            step=lambda n, f: step(n, 0.3 + 0.6 * f),
            only=only,
        )
    return matrix.frame(dataset["trades"])


def evaluate_dataset(
    data_dir: Path,
    model_uri: str | None = None,
    settings: Settings | None = None,
    step: Step = lambda name, fraction: None,
) -> tuple[pd.DataFrame, dict[str, float]]:
    """Metrics of the model at ``model_uri`` (default: the champion) on every settled or
    failed trade of ``data_dir``, at every stage, and its cause accuracy."""
    settings = settings or get_settings()
    model = load_model(settings, model_uri)
    dataset = read_dataset(data_dir)
    rows = labelled(snapshots(data_dir, dataset, settings, step), dataset)
    scorers = {"model": (model.predict(rows), True), "ops_rule": (ops_rule_score(rows), False)}
    scorers |= truth_scorers(data_dir, rows)
    step("done", 1.0)
    return evaluation_table(rows, scorers), cause_accuracy(rows, model.predict_cause(rows))
