"""`failcast evaluate`: score any dataset with a registered model (a model trained on one
world can be judged on another), beside the ops rule and, on simulated data, the oracle."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd

from core.errors import NotFound
from core.settings import Settings, get_settings
from features.data.contract import Dataset, dataset_digest, read_dataset
from training.baselines import ops_rule_score
from training.dataset import decided, labelled_matrix, with_features
from training.evaluate import cause_accuracy, evaluation_table, truth_scorers
from training.model import FailModel
from training.tracking import CHAMPION, MODEL_NAME, dataset_fingerprint, load_fail_model
from training.train import TRAINING_TABLES, Step, ensure_features

__all__ = ["assessed_rows", "evaluate_dataset", "load_model"]


def load_model(settings: Settings, model_uri: str | None = None) -> FailModel:
    """The model at ``model_uri``, by default the registry's champion."""
    mlflow.set_tracking_uri(settings.tracking_uri)
    uri = model_uri or f"models:/{MODEL_NAME}@{CHAMPION}"
    try:
        return load_fail_model(uri)
    except mlflow.exceptions.MlflowException as exc:
        raise NotFound(f"model {uri}: {exc.message}") from exc


def _scratch(digest: str, settings: Settings) -> Settings:
    """Settings of a feature store of the dataset's own (``digest``: its
    ``dataset_digest``): the serving store stays as it is."""
    return settings.model_copy(
        update={
            "home": settings.home.expanduser() / "evaluations" / dataset_fingerprint(digest),
            "mlflow_tracking_uri": settings.tracking_uri,
            "online_store": "sqlite",
            "registry_url": None,
        }
    )


def assessed_rows(
    data_dir: Path,
    settings: Settings,
    step: Step = lambda n, f: None,
    chosen: Callable[[pd.DataFrame], np.ndarray] | None = None,
) -> tuple[Dataset, pd.DataFrame]:
    """The dataset's trades and reference tables, and the point-in-time (trade, stage) rows
    of its settled or failed trades (those of them the mask ``chosen(trades)`` selects, by
    default all), labelled and with their features (float32, as the model was trained on
    them); the other trades count for the day's state all the same.

    Lean as training is: the features are built before the dataset is read (the build's
    peak and the dataset's do not add up), only the tables labelling needs are read, the
    rows are labelled before their features are read (``labelled_matrix``), and the
    features are held once, in the float32 matrix."""
    scratch = _scratch(dataset_digest(data_dir), settings)
    validated = ensure_features(data_dir, scratch, lambda n, f: step(f"features: {n}", 0.3 * f))
    # hashed again after the build: bytes rewritten while it ran are not taken as validated
    dataset = read_dataset(data_dir, TRAINING_TABLES, validated)
    only = decided(dataset)
    if chosen is not None:
        only &= chosen(dataset["trades"])
    labels, matrix = labelled_matrix(dataset, only, scratch, lambda n, f: step(n, 0.3 + 0.6 * f))
    return dataset, with_features(labels.rows(matrix.rows), matrix.x, matrix.names)


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
    _, rows = assessed_rows(data_dir, settings, step)
    scorers = {"model": (model.predict(rows), True), "ops_rule": (ops_rule_score(rows), False)}
    scorers |= truth_scorers(data_dir, rows)
    step("done", 1.0)
    return evaluation_table(rows, scorers), cause_accuracy(rows, model.predict_cause)
