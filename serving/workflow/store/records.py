"""What the store is given and what it answers with: scores with what the queue shows of
their trade, updates an event makes to a stored trade, and what a write did."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from core.costs import in_reporting_currency
from serving.workflow.store.tables import EXCEPTION_FIELDS, EXCEPTION_SCORE_FIELDS, ExceptionRow

__all__ = ["TRADE_FIELDS", "Recorded", "ScoreRecord", "TradeUpdate", "as_dict"]

_GIVEN = set(EXCEPTION_SCORE_FIELDS) - {"scored_at", "expected_cost_usd"}
"""Score fields a ``/score`` result gives as they are."""
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
    reasons: list[dict]
    settlement_date: dt.date
    counterparty_id: str
    instrument_id: str
    desk_id: str
    settlement_market: str
    notional: float
    trade: object = None  # the scored ``Trade``, kept for re-scoring (None: not kept)

    @property
    def expected_cost_usd(self) -> float:
        return float(in_reporting_currency(self.expected_cost, self.currency))

    @property
    def at_risk(self) -> bool:
        return self.risk_tier != "LOW"

    @classmethod
    def of(cls, score: Mapping, trade: object) -> ScoreRecord:
        """From a ``/score`` result and the ``Trade`` it scored."""
        stamp = score["scored_at"]
        return cls(
            **{name: score[name] for name in EXCEPTION_SCORE_FIELDS if name in _GIVEN},
            scored_at=stamp
            if isinstance(stamp, dt.datetime)
            else dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")),
            trade_id=score["trade_id"],
            **{name: getattr(trade, name) for name in TRADE_FIELDS},
            trade=trade,
        )


@dataclass(frozen=True)
class TradeUpdate:
    """What an event changed about a stored trade: its lifecycle, or its final outcome."""

    trade_id: str
    at: dt.datetime
    lifecycle: dict | None = None  # replaces the stored lifecycle
    outcome: str | None = None  # SETTLED, FAILED or CANCELLED: closes the trade
    fail_reason: str | None = None
    note: str = ""


def as_dict(row: ExceptionRow) -> dict:
    return {name: getattr(row, name) for name in EXCEPTION_FIELDS}


@dataclass(frozen=True)
class Recorded:
    scores: int  # new score rows (a score stored before is not counted again)
    opened: int  # exceptions opened
    updated: int  # open exceptions given a newer score
    closed: int = 0  # exceptions closed: the trade settled, failed, was cancelled or is safe
