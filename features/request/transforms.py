"""The python-mode on-demand transforms: request fields combined with stored features into
the model's request-time features, vectorised (a batch or a single trade)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from core.catalogue import CONTEXT_VIEW, INTRADAY_VIEW, LIFECYCLE_VIEW, Feature, of_view
from core.lifecycle import AMENDMENTS, STEP_OF, STEPS

__all__ = ["context_features", "intraday_features", "lifecycle_features"]

_DAY_S = 86_400.0
_CONTEXT = of_view(CONTEXT_VIEW)
_LIFECYCLE = of_view(LIFECYCLE_VIEW)
_INTRADAY = of_view(INTRADAY_VIEW)


class _Columns:
    """Numeric columns of a python-mode input batch, as float arrays (None becomes NaN)."""

    def __init__(self, inputs: Mapping[str, Any]) -> None:
        self._inputs = inputs

    def __getitem__(self, name: str) -> np.ndarray:
        return np.asarray(self._inputs[name], dtype=np.float64).reshape(-1)


TransformOutput = dict[str, list[Any]] | dict[str, np.ndarray]
"""A transform's output: lists for Feast's python mode, arrays for arrays given."""


def _out(
    specs: Sequence[Feature], values: Mapping[str, np.ndarray], inputs: Mapping[str, Any]
) -> TransformOutput:
    """Columns in spec order, typed per spec; a NaN int (unknown input) becomes 0. Lists, as
    Feast's python mode passes and expects them, unless every input column is an array
    (failcast's own batches: ``features.retrieval.ServiceParts``), then arrays, not turned
    into Python objects and back for millions of training rows."""
    arrays = {
        s.name: (
            np.where(np.isnan(values[s.name]), 0.0, values[s.name]).astype(np.int64)
            if s.dtype == "int"
            else values[s.name].astype(np.float64, copy=False)
        )
        for s in specs
    }
    if all(isinstance(column, np.ndarray) for column in inputs.values()):
        return arrays
    return {name: column.tolist() for name, column in arrays.items()}


def context_features(inputs: Mapping[str, Any]) -> TransformOutput:
    """Request-time features: request fields combined with stored entity features."""
    x = _Columns(inputs)
    scoring = x["req_scoring_s"]
    sell = x["req_is_sell"] == 1
    domicile = x["cpty_domicile_code"]
    with np.errstate(invalid="ignore", divide="ignore"):
        values = {
            "cross_border": np.where(
                np.isnan(domicile), np.nan, (domicile != x["req_settlement_market_code"]) * 1.0
            ),
            "log_notional": np.log10(np.maximum(x["req_notional"], 1.0)),
            "notional_vs_cpty_mean": x["req_notional"] / x["cpty_mean_notional_90d"],
            "size_vs_adv": x["req_quantity"] / x["avg_daily_volume"],
            "inventory_coverage": np.where(
                sell, (x["available_qty"] + x["incoming_qty"]) / x["req_quantity"], np.nan
            ),
            "available_coverage": np.where(sell, x["available_qty"] / x["req_quantity"], np.nan),
            "cpty_days_since_onboarding": x["req_exec_day"] - x["cpty_onboarded_day"],
            "instrument_age_days": x["req_exec_day"] - x["issue_day"],
            "ssi_age_days": (scoring - x["ssi_valid_from_s"]) / _DAY_S,
            "ssi_unverified": np.where(
                np.isnan(x["ssi_valid_from_s"]), np.nan, np.isnan(x["ssi_verified_s"]) * 1.0
            ),
            "ssi_days_since_verified": (scoring - x["ssi_verified_s"]) / _DAY_S,
            "ssi_changes_90d": np.where(
                np.isnan(x["ssi_valid_from_s"]),
                np.nan,
                ((scoring - x["ssi_valid_from_s"]) < 90 * _DAY_S) * 1.0
                + ((scoring - x["ssi_prev_valid_from_s"]) < 90 * _DAY_S),
            ),
        }
    for passthrough in (
        "settlement_cycle_days",
        "holiday_in_window",
        "period_end",
        "quarter_end",
        "is_sell",
        "is_block",
    ):
        values[passthrough] = x[f"req_{passthrough}"]
    return _out(_CONTEXT, values, inputs)


def lifecycle_features(inputs: Mapping[str, Any]) -> TransformOutput:
    """Lifecycle status and lateness as of the scoring instant."""
    x = _Columns(inputs)
    scoring, cutoff = x["req_scoring_s"], x["req_cutoff_s"]

    def done(field: str) -> np.ndarray:
        return (x[field] <= scoring) * 1.0  # NaN (not yet) compares False

    affirm, instruct = STEP_OF["AFFIRMED"], STEP_OF["INSTRUCTED"]
    values = {step.feature: done(step.request) for step in STEPS}
    waiting = (values[instruct.feature] == 1) & (values[STEP_OF["MATCHED"].feature] == 0)
    values |= {
        "minutes_since_execution": (scoring - x["req_execution_s"]) / 60.0,
        "minutes_to_cutoff": (cutoff - scoring) / 60.0,
        "minutes_to_isd": (x["req_isd_start_s"] - scoring) / 60.0,
        "affirmed_late": np.where(
            values[affirm.feature] == 1, x[affirm.request] > cutoff, scoring > cutoff
        )
        * 1.0,
        AMENDMENTS.feature: x[AMENDMENTS.request],  # an int: NaN becomes 0 in _out
        "minutes_waiting_to_match": np.where(
            waiting, (scoring - x[instruct.request]) / 60.0, np.nan
        ),
    }
    return _out(_LIFECYCLE, values, inputs)


def intraday_features(inputs: Mapping[str, Any]) -> TransformOutput:
    """The day's state of the trade's counterparty, market and desk: computed by whoever
    scores (``features.compute.intraday``) and sent as request fields."""
    x = _Columns(inputs)
    return _out(_INTRADAY, {f.name: x[f"req_{f.name}"] for f in _INTRADAY}, inputs)
