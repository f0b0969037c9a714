"""The fail model: a LightGBM booster, isotonic calibration of its probability, and a second
booster that names the likely cause of a fail. Native boosters, so exact TreeSHAP is at hand."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.isotonic import IsotonicRegression

from core.errors import ModelMismatch
from core.memory import release_memory
from training.distributed import DaskTraining, fit_on_dask

__all__ = [
    "CATEGORICAL",
    "SAMPLING_SETTINGS",
    "Calibration",
    "FailModel",
    "ModelParams",
    "binned",
    "fit_fail_model",
]

CATEGORICAL = ("asset_class_code", "cpty_type_code")
"""Integer codes LightGBM should split as categories, not as ordered numbers."""
SAMPLING_SETTINGS: dict[str, tuple[str, ...]] = {
    "goss": ("top_rate", "other_rate"),
    "bagging": ("bagging_fraction",),
}
"""The ``ModelParams`` settings each row sampling reads (``ModelParams.sampling``)."""
TIE_BREAK = 1e-6
"""Weight of the booster's own probability added to the calibrated one: it orders trades the
isotonic map would tie, and moves no probability by more than a millionth."""


@dataclass(frozen=True)
class ModelParams:
    """LightGBM settings. Tree count and leaves are capped with explanation latency in mind:
    exact SHAP costs grow with trees × leaves × depth²."""

    num_leaves: int = 31
    learning_rate: float = 0.05
    max_trees: int = 600
    early_stopping_rounds: int = 50
    min_child_samples: int = 100
    feature_fraction: float = 0.8
    # Rows each tree learns from. GOSS (gradient-based one-side sampling): the rows with the
    # largest gradients (``top_rate``) and a random share of the rest (``other_rate``,
    # weighted back). Most settled trades are learnt in the first rounds and teach little
    # after, so a tree grows on 30% of the rows; the fit takes about 0.6× bagging's time with
    # every model figure within run-to-run noise, on the default world and the zoo's hardest
    # (benchmarks/RESULTS.md). "bagging" draws ``bagging_fraction`` of the rows at random.
    sampling: Literal["goss", "bagging"] = "goss"
    top_rate: float = 0.2
    other_rate: float = 0.1
    bagging_fraction: float = 0.8
    lambda_l2: float = 1.0
    max_bin: int = 255
    # The cause head: small trees, early-stopped on the validation fails. It is walked for
    # every scored trade, and larger trees named the cause no better (benchmarks/RESULTS.md).
    cause_leaves: int = 7
    cause_learning_rate: float = 0.1
    cause_max_rounds: int = 400
    seed: int = 7

    def lgb(self, objective: str, **extra: object) -> dict[str, Any]:
        return {
            "objective": objective,
            "num_leaves": self.num_leaves,
            "learning_rate": self.learning_rate,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            **self._sampling(),
            "lambda_l2": self.lambda_l2,
            "max_bin": self.max_bin,
            "seed": self.seed,
            "num_threads": 2,
            "verbose": -1,
            **extra,
        }

    def in_use(self) -> dict[str, Any]:
        """Every setting but those of the row sampling not in use: what a run logs, so that
        a bagging fraction is never read as applied to a GOSS model."""
        unused = {
            name
            for sampling, names in SAMPLING_SETTINGS.items()
            if sampling != self.sampling
            for name in names
        }
        return {k: v for k, v in asdict(self).items() if k not in unused}

    def _sampling(self) -> dict[str, Any]:
        if self.sampling == "goss":
            return {
                "data_sample_strategy": "goss",
                "top_rate": self.top_rate,
                "other_rate": self.other_rate,
            }
        return {"bagging_fraction": self.bagging_fraction, "bagging_freq": 1}


@dataclass(frozen=True)
class Calibration:
    """The isotonic map from the booster's probability to a calibrated one, as the
    thresholds ``IsotonicRegression`` keeps: saved as JSON, so loading a model runs no code."""

    x: np.ndarray
    y: np.ndarray

    @classmethod
    def fit(cls, raw: np.ndarray, failed: np.ndarray) -> Calibration:
        iso = IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(raw, failed)
        return cls(np.asarray(iso.X_thresholds_, float), np.asarray(iso.y_thresholds_, float))

    def to_json(self) -> dict[str, list[float]]:
        return {"x": self.x.tolist(), "y": self.y.tolist()}  # floats round-trip exactly

    @classmethod
    def from_json(cls, data: dict[str, list[float]]) -> Calibration:
        return cls(np.asarray(data["x"], float), np.asarray(data["y"], float))


@dataclass
class FailModel:
    FILES: ClassVar[tuple[str, ...]] = (
        "booster.txt",
        "cause_booster.txt",
        "calibration.json",
        "model.json",
    )
    """What ``save`` writes and ``load`` reads: text and JSON only, nothing that runs code."""

    booster: lgb.Booster
    calibrator: Calibration
    cause_booster: lgb.Booster
    causes: tuple[str, ...]
    features: list[str]
    meta: dict[str, Any] = field(default_factory=dict)

    def _matrix(self, frame: pd.DataFrame) -> np.ndarray:
        missing = [f for f in self.features if f not in frame.columns]
        if missing:
            raise ModelMismatch(f"feature frame lacks model features {missing}")
        picked = frame[self.features]
        if (picked.dtypes == np.float32).all():
            # the training matrix's own type: widening it to float64 changes no split's
            # decision (every float32 is a float64) and would double a test window's copy
            return picked.to_numpy()
        return picked.to_numpy(dtype=np.float64)

    def uncalibrated(self, frame: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.booster.predict(self._matrix(frame)))

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        """Calibrated probability that each trade fails on its ISD."""
        return self.calibrate(self.uncalibrated(frame))

    def predict_matrix(self, x: np.ndarray) -> np.ndarray:
        """``predict`` for a matrix whose columns are ``features``, in order."""
        return self.calibrate(np.asarray(self.booster.predict(x)))

    def calibrate(self, uncalibrated: np.ndarray) -> np.ndarray:
        """The isotonic map, evaluated as the piecewise-linear function it is (what
        ``IsotonicRegression.predict`` computes, without its per-call input checks), plus
        ``TIE_BREAK`` × the booster's probability: isotonic regression pools neighbours into
        flat steps, and trades on one step would tie, losing the booster's order (and with
        it ranking quality) for nothing a probability needs."""
        c = self.calibrator
        calibrated = np.interp(uncalibrated, c.x, c.y)  # clipped at both ends, as fitted
        return np.asarray(np.clip(calibrated + TIE_BREAK * uncalibrated, 0.0, 1.0))

    def cause_proba(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Probability of each cause, given that the trade fails."""
        proba = np.asarray(self.cause_booster.predict(self._matrix(frame)))
        return pd.DataFrame(proba, columns=list(self.causes), index=frame.index)

    def predict_cause(self, frame: pd.DataFrame) -> np.ndarray:
        best = self.cause_proba(frame).to_numpy().argmax(1)
        return np.asarray(np.asarray(self.causes, dtype=object)[best])

    def save(self, directory: Path) -> Path:
        directory.mkdir(parents=True, exist_ok=True)
        self.booster.save_model(directory / "booster.txt")
        self.cause_booster.save_model(directory / "cause_booster.txt")
        (directory / "calibration.json").write_text(json.dumps(self.calibrator.to_json()))
        (directory / "model.json").write_text(
            json.dumps({"features": self.features, "causes": list(self.causes), **self.meta})
        )
        return directory

    @classmethod
    def load(cls, directory: Path) -> FailModel:
        info = json.loads((directory / "model.json").read_text())
        features, causes = info.pop("features"), tuple(info.pop("causes"))
        return cls(
            booster=lgb.Booster(model_file=str(directory / "booster.txt")),
            calibrator=Calibration.from_json(
                json.loads((directory / "calibration.json").read_text())
            ),
            cause_booster=lgb.Booster(model_file=str(directory / "cause_booster.txt")),
            causes=causes,
            features=features,
            meta=info,
        )


def fit_fail_model(
    x: np.ndarray,
    rows: pd.DataFrame,
    features: list[str],
    train: np.ndarray,
    valid: np.ndarray,
    calib: np.ndarray,
    params: ModelParams = ModelParams(),
    dask: DaskTraining | None = None,
    weights: np.ndarray | None = None,
) -> FailModel:
    """Boost on ``train`` with early stopping on ``valid``; calibrate on ``calib``; learn the
    cause of fails on the failed rows of ``train`` and ``valid``. ``x`` holds the features
    (columns ``features``), ``rows`` the labels (``failed``, ``fail_reason``) row for row;
    the masks select rows. ``x`` is read, never copied whole: a slice's run of rows is binned
    in place and the slice taken from the bins.

    With ``dask``, the fail booster is trained on a Dask cluster (``training.distributed``):
    the rounds an early-stopped run picks on a sample of ``train``, over all of ``train``.
    ``weights`` (row for row) weigh the fail booster's training rows: what puts back the rows
    of settled trades sampled out."""
    y = rows["failed"].to_numpy(dtype=bool)
    categorical = [features.index(c) for c in CATEGORICAL if c in features]
    meta: dict[str, Any] = {"engine": "local"}
    if dask is None:
        booster = _early_stopped(x, y, train, valid, categorical, params, weights)
    else:
        sample = _sample(train, dask.sample_rows, params.seed)
        picked = _early_stopped(x, y, sample, valid, categorical, params, weights)
        rounds = picked.best_iteration or picked.current_iteration()
        booster = fit_on_dask(x, y, train, rounds, categorical, _fail_params(params), dask, weights)
        meta |= {"engine": "dask", "rounds_from_sample": rounds, "sample_rows": int(sample.sum())}
    raw = np.asarray(booster.predict(x[calib], num_iteration=booster.best_iteration or None))
    calibrator = Calibration.fit(raw, y[calib])

    cause_booster, causes = _fit_cause(
        x, rows["fail_reason"], train & y, valid & y, categorical, params
    )
    booster.free_dataset()
    booster = _at_best_iteration(booster)
    meta["trees"] = booster.current_iteration()
    return FailModel(booster, calibrator, cause_booster, causes, list(features), meta)


def _fail_params(params: ModelParams) -> dict[str, Any]:
    return params.lgb("binary", metric="binary_logloss")


def _early_stopped(
    x: np.ndarray,
    y: np.ndarray,
    train: np.ndarray,
    valid: np.ndarray,
    categorical: list[int],
    params: ModelParams,
    weights: np.ndarray | None = None,
) -> lgb.Booster:
    """The fail booster on ``train`` (rows weighted by ``weights``), stopped early on
    ``valid``."""
    binning = {"max_bin": params.max_bin, "verbose": -1}
    train_set = binned(x, y, train, categorical, binning, weights=weights)
    valid_set = binned(x, y, valid, categorical, binning, reference=train_set)
    return lgb.train(
        _fail_params(params),
        train_set,
        num_boost_round=params.max_trees,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)],
    )


def _sample(mask: np.ndarray, rows: int, seed: int) -> np.ndarray:
    """At most ``rows`` of the rows ``mask`` selects, drawn evenly at random."""
    chosen = np.flatnonzero(mask)
    if chosen.size <= rows:
        return mask
    keep = np.random.default_rng(seed).choice(chosen, rows, replace=False)
    out = np.zeros_like(mask)
    out[keep] = True
    return out


def binned(
    x: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    categorical: list[int],
    params: dict[str, Any],
    reference: lgb.Dataset | None = None,
    weights: np.ndarray | None = None,
) -> lgb.Dataset:
    """A LightGBM dataset of the rows ``mask`` selects (weighted by ``weights``, row for row
    over ``x``, when given), constructed: the run of rows holding them is binned straight from
    ``x`` (a view, no copy), then the rows are taken from the bins and the run's bins let go;
    rows that fill less than half their run (a sample) are copied instead."""
    chosen = np.flatnonzero(mask)
    if chosen.size == 0:
        raise ValueError("a slice of the training rows is empty")
    lo, hi = int(chosen[0]), int(chosen[-1]) + 1
    if 2 * chosen.size < hi - lo:  # a sparse sample of a long run: copy it, not bin the run
        return lgb.Dataset(
            x[chosen],
            y[chosen],
            weight=None if weights is None else weights[chosen],
            categorical_feature=categorical,
            reference=reference,
            params=params,
            free_raw_data=True,
        ).construct()
    run = lgb.Dataset(
        x[lo:hi],
        y[lo:hi],
        weight=None if weights is None else weights[lo:hi],
        categorical_feature=categorical,
        reference=reference,
        params=params,
        free_raw_data=True,
    )
    if chosen.size == hi - lo:
        return run.construct()
    rows = run.construct().subset((chosen - lo).tolist()).construct()
    # the subset copied its rows' bins: the run's (as large again) would otherwise live as
    # long as the subset, which keeps it as its reference (LightGBM has no public call)
    run._free_handle()
    release_memory()  # the run's bins go back to the system before the boosting's buffers
    return rows


def _at_best_iteration(booster: lgb.Booster) -> lgb.Booster:
    """The booster cut at its early-stopping iteration (whole when it did not stop early)."""
    best = booster.best_iteration or booster.current_iteration()
    return lgb.Booster(model_str=booster.model_to_string(num_iteration=best))


def _fit_cause(
    x: np.ndarray,
    reason: pd.Series,
    train: np.ndarray,
    valid: np.ndarray,
    categorical: list[int],
    params: ModelParams,
) -> tuple[lgb.Booster, tuple[str, ...]]:
    """The multiclass cause head on failed rows (few: copied), early-stopped on the
    validation fails."""
    causes = tuple(sorted(reason[train | valid].unique()))

    def dataset(mask: np.ndarray, reference: lgb.Dataset | None = None) -> lgb.Dataset:
        target = pd.Index(causes).get_indexer(pd.Index(reason[mask]))
        return lgb.Dataset(x[mask], target, categorical_feature=categorical, reference=reference)

    train_set = dataset(train)
    lgb_params = params.lgb("multiclass", num_class=len(causes), metric="multi_logloss")
    lgb_params.update(num_leaves=params.cause_leaves, learning_rate=params.cause_learning_rate)
    stop = valid.any()  # a tiny world may have no validation fails: then all rounds
    booster = lgb.train(
        lgb_params,
        train_set,
        num_boost_round=params.cause_max_rounds,
        valid_sets=[dataset(valid, reference=train_set)] if stop else None,
        callbacks=[lgb.early_stopping(params.early_stopping_rounds, verbose=False)]
        if stop
        else None,
    )
    return _at_best_iteration(booster), causes
