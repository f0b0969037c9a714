"""What the store is given and what it answers with: scores with what the queue shows of
their trade, updates an event makes to a stored trade, and what a write did."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from core.costs import in_reporting_currency
from serving.scoring.schemas import Trade, TradeScore
from serving.workflow.store.tables import EXCEPTION_FIELDS, ExceptionRow, OutboxRow

__all__ = ["TRADE_FIELDS", "OutboxEntry", "Recorded", "ScoreRecord", "TradeUpdate", "as_dict"]

TRADE_FIELDS = [
    "settlement_date",
    "counterparty_id",
    "instrument_id",
    "desk_id",
    "settlement_market",
    "notional",
]
"""What an exception shows of its trade."""


@dataclass(frozen=True)
class ScoreRecord:
    """A score (``TradeScore`` fields) with what the queue shows of its trade."""

    trade_id: str
    scored_at: dt.datetime
    model_version: str
    stage: str
    fail_probability: float
    risk_tier: str
    predicted_cause: str
    expected_cost: float
    currency: str
    reasons: list[dict[str, Any]]
    settlement_date: dt.date
    counterparty_id: str
    instrument_id: str
    desk_id: str
    settlement_market: str
    notional: float
    # the expected cost by part, trade currency (0 in journal lines of an older version)
    expected_penalty: float = 0.0
    expected_funding: float = 0.0
    expected_buy_in: float = 0.0
    trade: Trade | None = None  # the scored trade, kept for re-scoring (None: not kept)

    @property
    def expected_cost_usd(self) -> float:
        return float(in_reporting_currency(self.expected_cost, self.currency))

    @property
    def at_risk(self) -> bool:
        return self.risk_tier != "LOW"

    @classmethod
    def of(cls, score: TradeScore, trade: Trade) -> ScoreRecord:
        """From a score and the ``Trade`` it scored."""
        return cls(
            trade_id=score.trade_id,
            scored_at=score.scored_at,
            model_version=score.model_version,
            stage=score.stage,
            fail_probability=score.fail_probability,
            risk_tier=score.risk_tier,
            predicted_cause=score.predicted_cause,
            expected_cost=score.expected_cost,
            currency=score.currency,
            reasons=[r.model_dump() for r in score.reasons],
            settlement_date=trade.settlement_date,
            counterparty_id=trade.counterparty_id,
            instrument_id=trade.instrument_id,
            desk_id=trade.desk_id,
            settlement_market=trade.settlement_market,
            notional=trade.notional,
            expected_penalty=score.cost_breakdown.penalty,
            expected_funding=score.cost_breakdown.funding,
            expected_buy_in=score.cost_breakdown.buy_in,
            trade=trade,
        )


@dataclass(frozen=True)
class TradeUpdate:
    """What an event changed about a stored trade: its lifecycle, or its final outcome."""

    trade_id: str
    at: dt.datetime
    lifecycle: dict[str, Any] | None = None  # replaces the stored lifecycle
    outcome: str | None = None  # SETTLED, FAILED or CANCELLED: closes the trade
    fail_reason: str | None = None
    note: str = ""


@dataclass(frozen=True)
class OutboxEntry:
    """What a batch of events still has to do once taken in: push its features online and
    score again the trades its lifecycle events touched (``rescore``: trade -> instant, ISO;
    a trade decided by then is left out)."""

    events: list[dict[str, Any]]
    rescore: dict[str, str]
    id: int | None = None  # None until stored
    attempts: int = 0

    @classmethod
    def of(cls, row: OutboxRow) -> OutboxEntry:
        return cls(row.events, row.rescore, row.id, row.attempts)


def as_dict(row: ExceptionRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in EXCEPTION_FIELDS}


@dataclass(frozen=True)
class Recorded:
    scores: int  # new score rows (a score stored before is not counted again)
    opened: int  # exceptions opened
    updated: int  # open exceptions given a newer score
    closed: int = 0  # exceptions closed: the trade settled, failed, was cancelled or is safe
    reopened: int = 0  # resolved exceptions back in the queue: the risk rose again
    overdue: int = 0  # exceptions past their settlement deadline with no outcome
