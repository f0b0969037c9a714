"""The scoring API's request and response shapes.

``Trade`` is generated from the raw-data contract's ``trades`` table, so the API and the
contract cannot drift apart: the same columns, types, enumerations and bounds, and a
validation error names the field and the rule it broke.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    NonNegativeInt,
    create_model,
    model_validator,
)

from core.instants import epoch_us
from core.lifecycle import AMENDMENTS, STEPS
from features.data.contract import TABLES
from features.data.contract._schema import Column, Kind

__all__ = [
    "Explanation",
    "FeatureAttribution",
    "Lifecycle",
    "ModelInfo",
    "ReasonOut",
    "RiskTier",
    "ScoreResponse",
    "Trade",
    "TradeScore",
    "columns_of",
    "contract_model",
]

RiskTier = Literal["HIGH", "MEDIUM", "LOW"]

_TYPES: dict[Kind, Any] = {
    Kind.STRING: str,
    Kind.FLOAT: float,
    Kind.INT: int,
    Kind.BOOL: bool,
    Kind.DATE: dt.date,
    Kind.TIMESTAMP: AwareDatetime,
}


def _field(column: Column) -> tuple[Any, Any]:
    kind = Literal[column.allowed] if column.allowed else _TYPES[column.kind]
    rules: dict[str, Any] = {"description": column.description}
    if column.kind is Kind.STRING and not column.allowed:
        rules["min_length"] = 1
    if column.kind is Kind.FLOAT:
        rules["allow_inf_nan"] = False
    if column.minimum is not None:
        rules["gt" if column.exclusive_minimum else "ge"] = column.minimum
    if column.maximum is not None:
        rules["le"] = column.maximum
    if column.nullable:
        return kind | None, Field(None, **rules)
    return kind, Field(..., **rules)


class Lifecycle(BaseModel):
    """What has happened to the trade so far (all optional): the first time of each step
    and the number of amendments. Steps after the scoring instant are ignored."""

    model_config = ConfigDict(extra="forbid")

    allocated_ts: AwareDatetime | None = None
    confirmed_ts: AwareDatetime | None = None
    affirmed_ts: AwareDatetime | None = None
    instructed_ts: AwareDatetime | None = None
    matched_ts: AwareDatetime | None = None
    amendments: NonNegativeInt = 0


_NO_LIFECYCLE = Lifecycle()


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _TradeBase(_Strict):
    @model_validator(mode="after")
    def _dates_in_order(self) -> _TradeBase:
        if self.settlement_date < self.trade_date:  # type: ignore[attr-defined]
            raise ValueError(
                "settlement_date must be on or after trade_date, got "
                f"{self.settlement_date} < {self.trade_date}"  # type: ignore[attr-defined]
            )
        return self


def contract_model(
    name: str, table: str, doc: str, base: type[BaseModel] | None = None, **extra: Any
) -> type[BaseModel]:
    """A request model with the fields of a contract table (types, enumerations, bounds)."""
    return create_model(  # type: ignore[call-overload]
        name,
        __base__=base or _Strict,
        __doc__=doc,
        **{c.name: _field(c) for c in TABLES[table].columns},
        **extra,
    )


Trade = contract_model(
    "Trade",
    "trades",
    "One executed trade, as the raw-data contract's trades table defines it, plus its "
    "lifecycle so far.",
    _TradeBase,
    lifecycle=(Lifecycle | None, Field(None, description="lifecycle so far (default: none)")),
)


def columns_of(trades: Sequence[BaseModel]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Validated trades as the arrays scoring works on: contract columns (``execution_us``
    in µs for the execution time) and the ``req_*`` lifecycle fields."""
    names = [c.name for c in TABLES["trades"].columns if c.name != "execution_ts"]
    columns = {n: np.array([getattr(t, n) for t in trades], dtype=object) for n in names}
    columns["execution_us"] = np.array(
        [epoch_us(t.execution_ts) for t in trades],  # type: ignore[attr-defined]
        dtype=np.int64,
    )
    states = [t.lifecycle or _NO_LIFECYCLE for t in trades]  # type: ignore[attr-defined]
    lifecycle = {
        step.request: np.array(
            [
                np.nan if (at := getattr(s, step.field)) is None else epoch_us(at) / 1e6
                for s in states
            ]
        )
        for step in STEPS
    }
    lifecycle[AMENDMENTS.request] = np.array([s.amendments for s in states], dtype=np.int64)
    return columns, lifecycle


class ReasonOut(BaseModel):
    code: str = Field(description="reason code; reasons with one code share an action")
    feature: str = Field(description="model feature behind the reason")
    value: float | None = Field(description="the feature's value for this trade")
    contribution: float = Field(description="SHAP contribution to the log-odds of failing")
    text: str = Field(description="the reason as an analyst reads it")
    action: str = Field(description="what to do about it")
    team: str = Field(description="the team that owns the action")


class TradeScore(BaseModel):
    trade_id: str
    fail_probability: float = Field(description="calibrated probability of failing on the ISD")
    risk_tier: RiskTier
    predicted_cause: str = Field(description="most likely cause if it fails")
    expected_cost: float = Field(description="P(fail) × notional × penalty rate × days late")
    currency: str = Field(description="currency of expected_cost (the trade's)")
    expected_cost_usd: float = Field(
        description="expected_cost in USD at indicative rates: what the queue ranks by"
    )
    reasons: list[ReasonOut]
    cold_start: list[Literal["counterparty", "instrument"]] = Field(
        description="entities the feature store has never seen: scored with missing history"
    )
    model_version: str
    stage: str = Field(description="lifecycle stage reached at scoring")
    scored_at: dt.datetime


class ScoreResponse(BaseModel):
    scores: list[TradeScore] = Field(description="one per trade, in request order")


class FeatureAttribution(BaseModel):
    feature: str
    value: float | None
    contribution: float
    code: str


class Explanation(BaseModel):
    trade_id: str
    fail_probability: float
    raw_score: float = Field(description="the booster's log-odds; base_value + contributions")
    base_value: float = Field(description="expected log-odds over the training data")
    contributions: list[FeatureAttribution] = Field(
        description="exact TreeSHAP value of every feature, largest magnitude first"
    )
    model_version: str
    stage: str
    scored_at: dt.datetime


class ModelInfo(BaseModel):
    model_version: str
    bento_model: str
    source: Literal["registry", "local store"]
    loaded_at: dt.datetime
    registry: str = Field(description="last registry check: 'ok' or the error")
    features: int
    trees: int
