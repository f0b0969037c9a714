"""Scores and trades for tests (and benchmarks) of the exception store: one trade shape,
executed at ``T0`` and settling on ``ISD``, scored with a given probability."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace

from serving.scoring.schemas import Trade
from serving.workflow.store import ScoreRecord

__all__ = ["ISD", "T0", "score", "traded"]

T0 = dt.datetime(2024, 6, 3, 14, 0, tzinfo=dt.UTC)
ISD = dt.date(2024, 6, 4)


def score(
    trade_id: str,
    probability: float,
    cost: float,
    minutes: int = 0,
    team: str = "Settlements",
    stage: str = "EXECUTION",
    currency: str = "USD",
) -> ScoreRecord:
    """A score of ``trade_id`` (no trade kept), ``minutes`` after ``T0``."""
    tier = "HIGH" if probability >= 0.25 else "MEDIUM" if probability >= 0.10 else "LOW"
    return ScoreRecord(
        trade_id=trade_id,
        scored_at=T0 + dt.timedelta(minutes=minutes),
        model_version="3",
        stage=stage,
        fail_probability=probability,
        risk_tier=tier,
        predicted_cause="LATE_MATCHING",
        expected_cost=cost,
        currency=currency,
        reasons=[{"code": "MATCHING_PENDING", "action": "Get it matched", "team": team}],
        settlement_date=ISD,
        counterparty_id="C1",
        instrument_id="I1",
        desk_id="D1",
        settlement_market="US",
        notional=1e6,
    )


def traded(
    trade_id: str, probability: float, minutes: int = 0, stage: str = "EXECUTION"
) -> ScoreRecord:
    """A score with its trade kept (what re-scoring and deadlines need)."""
    trade = Trade(
        trade_id=trade_id,
        execution_ts=T0,
        trade_date=T0.date(),
        settlement_date=ISD,
        settlement_cycle_days=1,
        desk_id="D1",
        account_id="A1",
        counterparty_id="C1",
        instrument_id="I1",
        side="SELL",
        quantity=1_000.0,
        price=10.0,
        notional=1e4,
        currency="USD",
        settlement_market="US",
        is_block=False,
    )
    return replace(score(trade_id, probability, 100.0, minutes=minutes, stage=stage), trade=trade)
