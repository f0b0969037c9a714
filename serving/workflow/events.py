"""Lifecycle re-scoring: events update the online features and the stored trades, and every
undecided trade they touch is scored again, so the queue follows the trades through the day.

    lifecycle  a row of the events table (ALLOCATED ... MATCHED, AMENDED, CANCELLED)
    ssi        a row of the ssi table: a new or newly verified SSI version
    inventory  a row of the inventory table: a position snapshot
    outcome    a row of the outcomes table: the trade settled, failed or was cancelled

Each kind is a contract table's row plus ``kind``, validated like the table. A batch is
checked whole before anything is written. Features are pushed first, then scores, lifecycles
and statuses land in one transaction; a trade is re-scored as of its latest event, so running
a batch again stores nothing twice.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from feast import FeatureStore
from pydantic import BaseModel, Field

from core.errors import ContractError, Violation
from core.instants import epoch_us, iso
from core.lifecycle import CANCELLED, STEPS
from features.data.contract import TABLES, table_frame
from features.push import push_outcomes, push_positions, push_ssi
from features.reference import Reference
from serving.scoring.schemas import TradeScore
from serving.scoring.scorer import Scorer
from serving.workflow.event_models import (
    AnyEvent,
    InventoryEvent,
    LifecycleEvent,
    OutcomeEvent,
    SsiEvent,
)
from serving.workflow.store import (
    ExceptionStore,
    Recorded,
    ScoreRecord,
    TradeRow,
    TradeUpdate,
)
from serving.workflow.trades import as_trade, lifecycle_after

__all__ = ["Applied", "EventProcessor", "RescoredTrade"]


class RescoredTrade(BaseModel):
    trade_id: str
    stage: str
    fail_probability: float
    previous_probability: float | None = Field(description="the latest score before the event")
    risk_tier: str
    expected_cost: float
    currency: str
    scored_at: dt.datetime


class Applied(BaseModel):
    """What a batch of events did."""

    events: dict[str, int] = Field(description="events applied, by kind")
    pushed: dict[str, int] = Field(description="feature rows pushed online, by view")
    rescored: list[RescoredTrade] = Field(description="undecided trades scored again")
    opened: int = Field(description="exceptions opened")
    updated: int = Field(description="exceptions given a newer score")
    closed: int = Field(description="exceptions closed (settled, failed, cancelled or safe)")


@dataclass
class _Batch:
    """A batch's events by kind, in arrival order."""

    lifecycle: list[LifecycleEvent] = field(default_factory=list)
    ssi: list[SsiEvent] = field(default_factory=list)
    inventory: list[InventoryEvent] = field(default_factory=list)
    outcome: list[OutcomeEvent] = field(default_factory=list)

    @classmethod
    def of(cls, events: Sequence[AnyEvent]) -> _Batch:
        batch = cls()
        for event in events:
            if isinstance(event, LifecycleEvent):
                batch.lifecycle.append(event)
            elif isinstance(event, SsiEvent):
                batch.ssi.append(event)
            elif isinstance(event, InventoryEvent):
                batch.inventory.append(event)
            else:
                batch.outcome.append(event)
        return batch

    def counts(self) -> dict[str, int]:
        kinds = ("lifecycle", "ssi", "inventory", "outcome")
        return {kind: n for kind in kinds if (n := len(getattr(self, kind)))}


@dataclass
class _Plan:
    """Trades to score again, each as of the latest event that touched it."""

    as_of: dict[str, dt.datetime] = field(default_factory=dict)
    lifecycle: dict[str, dict[str, Any]] = field(default_factory=dict)
    decided: dict[str, tuple[str, dt.datetime, str | None]] = field(default_factory=dict)

    def touch(self, trade_id: str, at: dt.datetime) -> None:
        if trade_id not in self.as_of or self.as_of[trade_id] < at:
            self.as_of[trade_id] = at


class EventProcessor:
    def __init__(
        self,
        scorer: Callable[[], Scorer],
        exceptions: ExceptionStore,
        features: FeatureStore,
        reference: Reference,
    ) -> None:
        self.scorer, self.exceptions, self.features = scorer, exceptions, features
        self.reference = reference

    def apply(self, events: Sequence[AnyEvent]) -> Applied:
        batch = _Batch.of(events)
        lifecycle, outcomes = batch.lifecycle, batch.outcome
        named = {e.trade_id for e in lifecycle} | {e.trade_id for e in outcomes}
        stored = {t.trade_id: t for t in self.exceptions.trades(named)}
        self._check(batch, stored)

        plan = _Plan()
        pushed = self._push(batch, stored, plan)
        for event in sorted(lifecycle, key=lambda e: e.event_ts):
            row = stored[event.trade_id]
            state = plan.lifecycle.get(event.trade_id, row.lifecycle)
            plan.lifecycle[event.trade_id] = lifecycle_after(
                state, event.event_type, iso(event.event_ts)
            )
            if event.event_type == CANCELLED:
                plan.decided[event.trade_id] = (CANCELLED, event.event_ts, None)
            plan.touch(event.trade_id, event.event_ts)
        for outcome in outcomes:
            plan.decided[outcome.trade_id] = (outcome.status, outcome.known_ts, outcome.fail_reason)

        rescored, recorded = self._rescore(plan)
        return Applied(
            events=batch.counts(),
            pushed=pushed,
            rescored=rescored,
            opened=recorded.opened,
            updated=recorded.updated,
            closed=recorded.closed,
        )

    def _check(self, batch: _Batch, stored: dict[str, TradeRow]) -> None:
        """Every trade, account and instrument named must be known: nothing is written
        otherwise."""
        problems = []
        unscored = sorted({e.trade_id for e in batch.lifecycle} - stored.keys())
        if unscored:
            problems.append(
                Violation(
                    "events",
                    f"lifecycle event for a trade never scored: {_few(unscored)}; "
                    "score it first (POST /score)",
                    "trade_id",
                )
            )
        outcome_ids = {e.trade_id for e in batch.outcome} - stored.keys()
        if outcome_ids:
            unknown = sorted(outcome_ids - set(self.reference.trade_facts().trade_id))
            if unknown:
                problems.append(
                    Violation(
                        "events",
                        f"outcome for a trade neither scored nor in the feature build: "
                        f"{_few(unknown)}",
                        "trade_id",
                    )
                )
        inventory = batch.inventory
        if inventory:
            accounts = sorted({e.account_id for e in inventory} - self.reference.known_accounts())
            known = set(self.reference.known_instruments())
            instruments = sorted({e.instrument_id for e in inventory} - known)
            for name, bad in (("account_id", accounts), ("instrument_id", instruments)):
                if bad:
                    problems.append(
                        Violation("events", f"inventory for unknown {name}: {_few(bad)}", name)
                    )
        if problems:
            raise ContractError(problems)

    def _push(self, batch: _Batch, stored: dict[str, TradeRow], plan: _Plan) -> dict[str, int]:
        """Push the new facts online and note which undecided trades they touch."""
        pushed: dict[str, int] = {}
        store, reference = self.features, self.reference
        if inventory := batch.inventory:
            rows = push_positions(store, reference, _frame(inventory, "inventory"))
            pushed["position"] = len(rows)
            latest = _latest(((e.account_id, e.instrument_id), e.as_of_ts) for e in inventory)
            for trade in self.exceptions.undecided(positions=latest):
                plan.touch(trade.trade_id, latest[(trade.account_id, trade.instrument_id)])
        if ssi := batch.ssi:
            rows = push_ssi(store, reference, _frame(ssi, "ssi"))
            pushed["ssi_state"] = len(rows)
            self._touch_ssi_trades(rows, plan)
        if outcomes := batch.outcome:
            live = [stored[e.trade_id] for e in outcomes if e.trade_id in stored]
            rows = push_outcomes(
                store,
                reference,
                _frame(outcomes, "outcomes"),
                live_trades=table_frame((t.payload for t in live), TABLES["trades"])
                if live
                else None,
                live_events=_lifecycle_events(live),
            )
            pushed["counterparty_history"] = len(rows)
            decided = {e.trade_id for e in outcomes}
            latest = _latest(
                (stored[e.trade_id].counterparty_id, e.known_ts)
                for e in outcomes
                if e.trade_id in stored
            )
            for trade in self.exceptions.undecided(counterparty_id=latest):
                if trade.trade_id not in decided:
                    plan.touch(trade.trade_id, latest[trade.counterparty_id])
        return pushed

    def _touch_ssi_trades(self, pushed: pd.DataFrame, plan: _Plan) -> None:
        """Undecided trades settling on a pushed SSI: same counterparty, market and asset
        class."""
        if pushed.empty:  # every version was older than the one in force
            return
        latest: dict[tuple[str, str, str], dt.datetime] = {}
        stamps = pd.DatetimeIndex(pushed["event_timestamp"]).to_pydatetime()
        keys = zip(
            pushed["counterparty_id"],
            pushed["settlement_market"],
            pushed["asset_class"],
            strict=True,
        )
        for key, at in zip(keys, stamps, strict=True):
            latest[key] = max(latest.get(key, at), at)
        trades = self.exceptions.undecided(ssi={key[:2] for key in latest})
        classes = self.reference.asset_class([t.instrument_id for t in trades])
        for trade, asset_class in zip(trades, classes, strict=True):
            at = latest.get((trade.counterparty_id, trade.settlement_market, asset_class))
            if at is not None:
                plan.touch(trade.trade_id, at)

    def _rescore(self, plan: _Plan) -> tuple[list[RescoredTrade], Recorded]:
        ids = [t for t in plan.as_of if t not in plan.decided]
        rows = {t.trade_id: t for t in self.exceptions.trades(ids)}
        ids = [t for t in ids if t in rows and rows[t].outcome is None]
        trades = [as_trade(rows[t].payload, plan.lifecycle.get(t, rows[t].lifecycle)) for t in ids]
        scores: list[TradeScore] = []
        if trades:
            as_of = np.array([epoch_us(plan.as_of[t]) for t in ids], dtype=np.int64)
            scores = self.scorer().score(trades, as_of)
        previous = self.exceptions.latest_probability(ids)
        updates = [
            TradeUpdate(trade_id, plan.as_of[trade_id], lifecycle=lifecycle)
            for trade_id, lifecycle in plan.lifecycle.items()
        ]
        updates += [
            TradeUpdate(trade_id, at, outcome=status, fail_reason=reason)
            for trade_id, (status, at, reason) in plan.decided.items()
        ]
        recorded = self.exceptions.record(
            [ScoreRecord.of(s, t) for s, t in zip(scores, trades, strict=True)], updates=updates
        )
        rescored = [
            RescoredTrade(
                trade_id=s.trade_id,
                stage=s.stage,
                fail_probability=s.fail_probability,
                previous_probability=previous.get(s.trade_id),
                risk_tier=s.risk_tier,
                expected_cost=s.expected_cost,
                currency=s.currency,
                scored_at=s.scored_at,
            )
            for s in scores
        ]
        return rescored, recorded


def _frame(events: Sequence[BaseModel], kind_table: str) -> pd.DataFrame:
    """Events as rows of their contract table (the column types the pushes expect)."""
    table = TABLES[kind_table]
    return table_frame((e.model_dump(include=set(table.column_names)) for e in events), table)


def _lifecycle_events(trades: list[TradeRow]) -> pd.DataFrame | None:
    """The lifecycle steps of stored trades as rows of the events table."""
    rows = [
        {"trade_id": t.trade_id, "event_ts": at, "event_type": step.event, "detail": None}
        for t in trades
        for step in STEPS
        if (at := t.lifecycle.get(step.field)) is not None
    ]
    if not rows:
        return None
    return table_frame(rows, TABLES["events"])


def _latest(pairs: Iterable[tuple[Any, dt.datetime]]) -> dict[Any, dt.datetime]:
    """The latest instant per key."""
    out: dict[Any, dt.datetime] = {}
    for key, at in pairs:
        if key not in out or out[key] < at:
            out[key] = at
    return out


def _few(values: list[str], shown: int = 5) -> str:
    return ", ".join(values[:shown]) + (
        f" (and {len(values) - shown} more)" if len(values) > shown else ""
    )
