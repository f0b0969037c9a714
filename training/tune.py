"""Hyperparameter search for the fail model: Optuna's TPE sampler over LightGBM's settings,
each trial boosted on the training slice and early-stopped and scored (PR-AUC) on the
validation slice only, so the calibration and test slices stay untouched. Every trial is an
MLflow child run of the training run; the chosen settings and which settings mattered
(Optuna's fANOVA importances) are logged on the parent.

The space is declared as data (``SPACE``, and ``SAMPLING_SPACE`` for the row sampling in
use). Leaves stay at most 63 and trees at most ``ModelParams.max_trees``: exact SHAP cost
grows with trees × leaves × depth², and the service explains every score.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Literal

import lightgbm as lgb
import mlflow
import numpy as np
import optuna
import pandas as pd
from sklearn.metrics import average_precision_score

from training.model import CATEGORICAL, ModelParams, binned

__all__ = ["SAMPLING_SPACE", "SPACE", "Dimension", "TuneResult", "space", "tune"]


@dataclass(frozen=True)
class Dimension:
    """One searched setting of ``ModelParams``: its range and whether it is searched on a log
    scale (rates and counts spanning orders of magnitude)."""

    low: float
    high: float
    kind: Literal["int", "float"]
    log: bool = False


SPACE: dict[str, Dimension] = {
    "num_leaves": Dimension(15, 63, "int"),
    "learning_rate": Dimension(0.02, 0.2, "float", log=True),
    "min_child_samples": Dimension(20, 2_000, "int", log=True),
    "feature_fraction": Dimension(0.4, 1.0, "float"),
    "lambda_l2": Dimension(1e-3, 30.0, "float", log=True),
}
"""What the search varies whatever the row sampling, within the bounds the service's
explanation latency allows."""
SAMPLING_SPACE: dict[str, dict[str, Dimension]] = {
    "goss": {
        "top_rate": Dimension(0.1, 0.4, "float"),
        "other_rate": Dimension(0.05, 0.3, "float"),
    },
    "bagging": {"bagging_fraction": Dimension(0.5, 1.0, "float")},
}
"""The row sampling's own settings (``ModelParams.sampling``), searched beside ``SPACE``."""


def space(base: ModelParams) -> dict[str, Dimension]:
    """Every setting searched from ``base``: ``SPACE`` and its row sampling's."""
    return SPACE | SAMPLING_SPACE[base.sampling]


@dataclass(frozen=True)
class TuneResult:
    params: ModelParams  # the best trial's settings over the starting ones
    best_pr_auc: float  # its PR-AUC on the validation slice
    baseline_pr_auc: float  # the starting settings' (trial 0)
    importance: dict[str, float]  # how much of the score's variance each setting explains
    searched: tuple[str, ...]  # the settings the search varied (``space``)
    trials: pd.DataFrame  # one row per trial: settings, PR-AUC, trees, seconds


def _suggest(trial: optuna.Trial, base: ModelParams) -> ModelParams:
    values: dict[str, float | int] = {}
    for name, d in space(base).items():
        if d.kind == "int":
            values[name] = trial.suggest_int(name, int(d.low), int(d.high), log=d.log)
        else:
            values[name] = trial.suggest_float(name, d.low, d.high, log=d.log)
    return replace(base, **values)  # type: ignore[arg-type]


def tune(
    x: np.ndarray,
    rows: pd.DataFrame,
    features: list[str],
    train: np.ndarray,
    valid: np.ndarray,
    base: ModelParams,
    weights: np.ndarray | None,
    trials: int,
    timeout_seconds: float | None = None,
    on_trial: Callable[[int, float], None] = lambda number, best: None,
) -> TuneResult:
    """Search ``space(base)`` for ``trials`` trials (or until ``timeout_seconds``), starting from
    ``base``; call inside an MLflow run (each trial is logged as its child). ``x`` holds the
    features (columns ``features``), ``rows`` the labels, row for row; ``weights`` (row for
    row, or None) weigh the training rows."""
    if trials < 1:
        raise ValueError(f"tuning needs at least one trial; got {trials}")
    y = rows["failed"].to_numpy(dtype=bool)
    categorical = [features.index(c) for c in CATEGORICAL if c in features]
    # binned once for every trial: the bins do not depend on the searched settings
    binning = {"max_bin": base.max_bin, "feature_pre_filter": False, "verbose": -1}
    train_set = binned(x, y, train, categorical, binning, weights=weights)
    valid_set = binned(x, y, valid, categorical, binning, reference=train_set)
    valid_x, valid_y = x[valid], y[valid]

    def objective(trial: optuna.Trial) -> float:
        params = _suggest(trial, base)
        booster = lgb.train(
            params.lgb("binary", metric="binary_logloss"),
            train_set,
            num_boost_round=params.max_trees,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
        )
        score = float(
            average_precision_score(
                valid_y, booster.predict(valid_x, num_iteration=booster.best_iteration)
            )
        )
        trial.set_user_attr("trees", booster.best_iteration or booster.current_iteration())
        with mlflow.start_run(run_name=f"trial {trial.number}", nested=True):
            mlflow.log_params({f"model.{k}": v for k, v in trial.params.items()})
            mlflow.log_metrics({"valid.pr_auc": score, "trees": trial.user_attrs["trees"]})
        return score

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=base.seed)
    )
    # trial 0 is where the search starts: the settings in use, so tuning never does worse
    study.enqueue_trial({name: getattr(base, name) for name in space(base)})
    study.optimize(
        objective,
        n_trials=trials,
        timeout=timeout_seconds,
        callbacks=[lambda s, t: on_trial(t.number, s.best_value)],
    )
    done = study.trials_dataframe(attrs=("number", "value", "params", "user_attrs", "duration"))
    importance: dict[str, float] = {}
    if len([t for t in study.trials if t.value is not None]) > 1:
        importance = {
            k: float(v) for k, v in optuna.importance.get_param_importances(study).items()
        }
    best = replace(base, **study.best_params)
    baseline = study.trials[0].value
    return TuneResult(
        params=best,
        best_pr_auc=float(study.best_value),
        baseline_pr_auc=float(baseline) if baseline is not None else math.nan,
        importance=importance,
        searched=tuple(space(base)),
        trials=done,
    )
