"""The scoring API's request and response shapes.

``Trade`` follows the raw-data contract's ``trades`` table: each field takes its description
and rules from the contract column (``contract_field``) and a test holds the names, types and
enumerations equal to the table's (``model_drift``), so the API and the contract cannot drift
apart, and a validation error names the field and the rule it broke.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, NonNegativeInt, model_validator

from core.instants import epoch_us
from core.lifecycle import AMENDMENTS, STEPS
from core.limits import MAX_SETTLEMENT_WINDOW_DAYS, NOTIONAL_TOLERANCE
from core.vocabulary import Currency, MarketCode, Side
from features.data.contract import TABLES, Identifier, Instant, contract_field

__all__ = [
    "CostBreakdownOut",
    "Explanation",
    "FeatureAttribution",
    "Lifecycle",
    "ModelInfo",
    "ReasonOut",
    "RiskTier",
    "ScoreResponse",
    "Strict",
    "Trade",
    "TradeScore",
    "columns_of",
]

RiskTier = Literal["HIGH", "MEDIUM", "LOW"]


class Strict(BaseModel):
    """A request body: unknown fields are refused, naming them."""

    model_config = ConfigDict(extra="forbid")


class Lifecycle(Strict):
    """What has happened to the trade so far (all optional): the first time of each step
    (``core.lifecycle``) and the number of amendments. Steps after the scoring instant are
    ignored."""

    allocated_ts: Instant | None = None
    confirmed_ts: Instant | None = None
    affirmed_ts: Instant | None = None
    instructed_ts: Instant | None = None
    matched_ts: Instant | None = None
    amendments: NonNegativeInt = 0

    def at(self, field: str) -> dt.datetime | None:
        """The first time of the step whose ``field`` this is."""
        value: dt.datetime | None = getattr(self, field)
        return value


_NO_LIFECYCLE = Lifecycle()


def _trade(column: str) -> Any:
    return contract_field("trades", column)


class Trade(Strict):
    """One executed trade, as the raw-data contract's trades table defines it, plus its
    lifecycle so far."""

    trade_id: Identifier = _trade("trade_id")
    execution_ts: Instant = _trade("execution_ts")
    trade_date: dt.date = _trade("trade_date")
    settlement_date: dt.date = _trade("settlement_date")
    settlement_cycle_days: int = _trade("settlement_cycle_days")
    desk_id: Identifier = _trade("desk_id")
    account_id: Identifier = _trade("account_id")
    counterparty_id: Identifier = _trade("counterparty_id")
    instrument_id: Identifier = _trade("instrument_id")
    side: Side = _trade("side")
    quantity: float = _trade("quantity")
    price: float = _trade("price")
    notional: float = _trade("notional")
    currency: Currency = _trade("currency")
    settlement_market: MarketCode = _trade("settlement_market")
    is_block: bool = _trade("is_block")
    lifecycle: Lifecycle | None = Field(None, description="lifecycle so far (default: none)")

    @model_validator(mode="after")
    def _consistent(self) -> Trade:
        if self.settlement_date < self.trade_date:
            raise ValueError(
                "settlement_date must be on or after trade_date, got "
                f"{self.settlement_date} < {self.trade_date}"
            )
        window = (self.settlement_date - self.trade_date).days
        if window > MAX_SETTLEMENT_WINDOW_DAYS:
            raise ValueError(
                f"settlement_date must be at most {MAX_SETTLEMENT_WINDOW_DAYS} days after "
                f"trade_date, got {window}"
            )
        if abs((self.trade_date - self.execution_ts.astimezone(dt.UTC).date()).days) > 1:
            raise ValueError(
                "trade_date must be the execution's local date (within a day of execution_ts), "
                f"got {self.trade_date} for {self.execution_ts.isoformat()}"
            )
        value = self.quantity * self.price
        if not any(
            abs(self.notional - v) <= NOTIONAL_TOLERANCE * v for v in (value, value / 100.0)
        ):
            raise ValueError(
                f"notional must be quantity × price (or × price / 100, quoted in percent of "
                f"par) within {NOTIONAL_TOLERANCE:.0%}, got {self.notional:,.2f} for "
                f"{self.quantity:,.2f} × {self.price:,.4f}"
            )
        return self


def columns_of(
    trades: Sequence[Trade],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Validated trades as the arrays scoring works on: contract columns (``execution_us``
    in µs for the execution time) and the lifecycle request fields."""
    names = [c.name for c in TABLES["trades"].columns if c.name != "execution_ts"]
    columns = {n: np.array([getattr(t, n) for t in trades], dtype=object) for n in names}
    columns["execution_us"] = np.array([epoch_us(t.execution_ts) for t in trades], dtype=np.int64)
    states = [t.lifecycle or _NO_LIFECYCLE for t in trades]
    lifecycle = {
        step.request: np.array(
            [np.nan if (at := s.at(step.field)) is None else epoch_us(at) / 1e6 for s in states]
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


class CostBreakdownOut(BaseModel):
    """A fail's expected cost by part, in the trade currency (each times P(fail))."""

    penalty: float = Field(description="the settlement market's cash penalty or fails charge")
    funding: float = Field(description="the overnight rate of the currency on the cash leg")
    buy_in: float = Field(description="P(buy-in) × the expected price move, on a sale")


class TradeScore(BaseModel):
    trade_id: str
    fail_probability: float = Field(description="calibrated probability of failing on the ISD")
    risk_tier: RiskTier
    predicted_cause: str = Field(description="most likely cause if it fails")
    expected_cost: float = Field(
        description="P(fail) × (penalty + funding + buy-in) of a fail lasting the expected "
        "days late, by the settlement market's regime (`failcast costs show`)"
    )
    currency: str = Field(description="currency of expected_cost (the trade's)")
    expected_cost_usd: float = Field(
        description="expected_cost in USD at indicative rates: what the queue ranks by"
    )
    cost_breakdown: CostBreakdownOut
    cost_driver: str = Field(description='the part that dominates: "funding: 1,200 USD of 1,450"')
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
