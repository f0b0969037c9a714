"""Lifecycle re-scoring: events update the online features and the stored trades, and every
undecided trade they touch is scored again, so the queue follows the trades through the day.

    lifecycle  a row of the events table (ALLOCATED ... MATCHED, AMENDED, CANCELLED)
    ssi        a row of the ssi table: a new or newly verified SSI version
    inventory  a row of the inventory table: a position snapshot
    outcome    a row of the outcomes table: the trade settled, failed or was cancelled

Each kind is a contract table's row plus ``kind`` and an optional ``event_id``, validated
like the table. A batch is checked whole before anything is written, then applied exactly
once, however often it is sent and whoever sends it (workers, the CLI):

1. *taken in*, in one transaction: each event's id into the inbox (an id received before is
   a re-sent event, left out; the same id with other content is refused), the lifecycle
   steps and outcomes into the stored trades, and an outbox entry of what is left to do;
2. *dispatched*: the entry's features pushed online, every undecided trade it touches scored
   again as of the latest event that touched it, and the scores stored with the entry marked
   done, in one transaction.

A crash or a store down between the two leaves the entry pending: the next call (or the
service's background catch-up) dispatches it, and since pushes and scores are idempotent a
dispatch run twice does what it does once.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

import numpy as np
import pandas as pd
from feast import FeatureStore
from pydantic import BaseModel

from core.errors import Conflict, ContractError, StoreUnavailable, Violation
from core.instants import epoch_us, iso
from core.lifecycle import CANCELLED, STEPS
from features.compute.receipts import AFFIRMED, MATCHED, RECEIPT_WINDOW_DAYS
from features.data.contract import TABLES, table_frame
from features.push import OUTCOME_KEYS, push_outcomes, push_positions, push_ssi
from features.reference import Reference
from serving.scoring.schemas import Trade, TradeScore
from serving.scoring.scorer import Scorer
from serving.workflow.event_models import (
    AnyEvent,
    Applied,
    InventoryEvent,
    LifecycleEvent,
    OutcomeEvent,
    RescoredTrade,
    SsiEvent,
    event_key,
    events_adapter,
)
from serving.workflow.store import (
    ExceptionStore,
    OutboxEntry,
    Recorded,
    ScoreRecord,
    TradeRow,
    TradeUpdate,
)
from serving.workflow.trades import as_trade, lifecycle_after

__all__ = ["LEASE", "MAX_ATTEMPTS", "EventProcessor"]

log = logging.getLogger(__name__)
_T = TypeVar("_T", dt.date, dt.datetime)

LEASE = dt.timedelta(seconds=60)
"""How long a process may take over an outbox entry before another may take it over."""
MAX_ATTEMPTS = 3
"""Failed dispatches (for anything but a store down) before an entry is a dead letter."""
_ACCEPT_ATTEMPTS = 5


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
    """Trades to score again, each as of the latest event that touched it; lifecycles and
    outcomes a batch gives its trades."""

    as_of: dict[str, dt.datetime] = field(default_factory=dict)
    lifecycle: dict[str, dict[str, Any]] = field(default_factory=dict)
    decided: dict[str, tuple[str, dt.datetime, str | None]] = field(default_factory=dict)

    def touch(self, trade_id: str, at: dt.datetime) -> None:
        if trade_id not in self.as_of or self.as_of[trade_id] < at:
            self.as_of[trade_id] = at

    def updates(self) -> list[TradeUpdate]:
        updates = [
            TradeUpdate(trade_id, self.as_of[trade_id], lifecycle=lifecycle)
            for trade_id, lifecycle in self.lifecycle.items()
        ]
        updates += [
            TradeUpdate(trade_id, at, outcome=status, fail_reason=reason)
            for trade_id, (status, at, reason) in self.decided.items()
        ]
        return updates


@dataclass
class _Effects:
    """What taking in and dispatching one batch did."""

    pushed: dict[str, int] = field(default_factory=dict)
    rescored: list[RescoredTrade] = field(default_factory=list)
    opened: int = 0
    updated: int = 0
    closed: int = 0

    def add(self, recorded: Recorded) -> None:
        self.opened += recorded.opened
        self.updated += recorded.updated
        self.closed += recorded.closed


Keyed = dict[str, tuple[AnyEvent, str]]
"""A batch's events by id, each with its content's digest (first of an id kept)."""


class EventProcessor:
    """Applies batches of events exactly once, whoever sends them and however often."""

    def __init__(
        self,
        scorer: Callable[[], Scorer],
        exceptions: ExceptionStore,
        features: FeatureStore,
        reference: Reference,
        before_rescoring: Callable[[], None] = lambda: None,
    ) -> None:
        """``before_rescoring`` runs once the events are stored and before the trades they
        touch are scored again (the service reads today's trades again there)."""
        self.scorer, self.exceptions, self.features = scorer, exceptions, features
        self.reference, self.before_rescoring = reference, before_rescoring

    def apply(self, events: Sequence[AnyEvent]) -> Applied:
        """Take the events in (those received before change nothing) and do what they imply.
        Raises ``StoreUnavailable`` when a store does not answer: what was taken in by then
        is kept, and done by a later call or ``catch_up``."""
        done = self.catch_up()  # what earlier calls took in and could not finish
        keyed = _keyed(events)
        seen, fresh, accepted = self._take_in(keyed)
        resent = {entry for _, entry in seen.values()}
        mine = [done[entry] for entry in resent if entry in done]
        if accepted is not None:
            entry, taken = accepted
            try:
                effects = self._dispatch(entry)
            except Exception as exc:
                self._failed(entry, exc)
                raise
            effects.add(taken)
            mine.append(effects)
        return Applied(
            events=_Batch.of([event for event, _ in fresh.values()]).counts(),
            duplicates=len(keyed) - len(fresh),
            pending=len(self.exceptions.undone(resent)),
            pushed=_sum_counts(e.pushed for e in mine),
            rescored=[trade for e in mine for trade in e.rescored],
            opened=sum(e.opened for e in mine),
            updated=sum(e.updated for e in mine),
            closed=sum(e.closed for e in mine),
        )

    def catch_up(self, limit: int = 100) -> dict[int, _Effects]:
        """Dispatch what batches taken in before still have to do (after a crash, or a store
        that was down), each entry's effects by its id. A batch that fails ``MAX_ATTEMPTS``
        times for anything but a store down is a dead letter; a store down stops here."""
        done: dict[int, _Effects] = {}
        for entry in self.exceptions.claimable(limit):
            assert entry.id is not None
            if not self.exceptions.claim(entry.id, LEASE):
                continue  # another process took it
            try:
                done[entry.id] = self._dispatch(entry)
            except StoreUnavailable as exc:
                self._failed(entry, exc)
                raise
            except Exception as exc:
                self._failed(entry, exc)
        return done

    def _take_in(
        self, keyed: Keyed
    ) -> tuple[dict[str, tuple[str, int]], Keyed, tuple[OutboxEntry, Recorded] | None]:
        """The events received before (id -> digest, entry), the new ones, and the entry
        they were taken in with (None: no new ones)."""
        for _ in range(_ACCEPT_ATTEMPTS):
            seen = self.exceptions.received(keyed)
            _refuse_conflicts(keyed, seen)
            fresh = {key: value for key, value in keyed.items() if key not in seen}
            if not fresh:
                return seen, fresh, None
            if (accepted := self._accept(fresh)) is not None:
                return seen, fresh, accepted
            # another writer took one of them first: look again
        raise StoreUnavailable(
            f"events: other writers kept taking the same events ({_ACCEPT_ATTEMPTS} tries)"
        )

    def _accept(self, fresh: Keyed) -> tuple[OutboxEntry, Recorded] | None:
        """Check the new events and take them in with their trade updates, in one
        transaction; None when another writer took one of them first."""
        events = [event for event, _ in fresh.values()]
        batch = _Batch.of(events)
        stored = self._stored(batch)
        self._check(batch, stored)
        plan = _lifecycle_plan(batch, stored)
        entry = OutboxEntry(
            events=[event.model_dump(mode="json") for event in events],
            rescore={t: at.isoformat() for t, at in plan.as_of.items() if t not in plan.decided},
        )
        inbox = [(key, digest, event.kind) for key, (event, digest) in fresh.items()]
        accepted = self.exceptions.accept(inbox, entry, plan.updates(), LEASE)
        if accepted is None:
            return None
        entry_id, recorded = accepted
        return replace(entry, id=entry_id), recorded

    def _dispatch(self, entry: OutboxEntry) -> _Effects:
        """Push the entry's features online, score again every undecided trade it touches,
        and store the scores with the entry done, in one transaction."""
        assert entry.id is not None
        batch = _Batch.of(events_adapter.validate_python(entry.events))
        plan = _Plan(as_of={t: dt.datetime.fromisoformat(at) for t, at in entry.rescore.items()})
        # one read of the trades the events name and of those they are known to touch; the
        # pushes add the trades they find touched
        held = {t.trade_id: t for t in self.exceptions.trades(_named(batch) | plan.as_of.keys())}
        effects = _Effects(pushed=self._push(batch, held, plan))
        self._touch_receipt_waiters(batch, held, plan)
        scores, trades, previous = self._rescore(plan, held)
        # the trades scored are the stored ones: they are not kept again (which could only
        # put back an older version over one stored since they were read)
        records = [
            replace(ScoreRecord.of(s, t), trade=None) for s, t in zip(scores, trades, strict=True)
        ]
        effects.add(self.exceptions.finish(entry.id, records))
        effects.rescored = [_rescored(s, previous.get(s.trade_id)) for s in scores]
        return effects

    def _failed(self, entry: OutboxEntry, exc: Exception) -> None:
        """Free the entry for a later attempt; a store down does not count as one."""
        assert entry.id is not None
        counted = not isinstance(exc, StoreUnavailable)
        error = f"{type(exc).__name__}: {exc}"
        if counted:
            log.exception("the events of outbox entry %d could not be applied", entry.id)
        try:
            dead = self.exceptions.release(entry.id, error if counted else None, MAX_ATTEMPTS)
        except StoreUnavailable as down:  # the claim runs out by itself
            log.warning("outbox entry %d stays claimed until its lease ends: %s", entry.id, down)
            return
        if dead:
            log.error("the events of outbox entry %d are a dead letter: %s", entry.id, error)

    def _stored(self, batch: _Batch) -> dict[str, TradeRow]:
        return {t.trade_id: t for t in self.exceptions.trades(_named(batch))}

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
        """Push the new facts online and note which undecided trades they touch (added to
        ``stored``, which holds at least the trades the batch names)."""
        pushed: dict[str, int] = {}
        store, reference = self.features, self.reference
        if inventory := batch.inventory:
            rows = push_positions(store, reference, _frame(inventory, "inventory"))
            pushed["position"] = len(rows)
            latest = _latest(((e.account_id, e.instrument_id), e.as_of_ts) for e in inventory)
            for trade in self.exceptions.undecided(positions=latest):
                stored.setdefault(trade.trade_id, trade)
                plan.touch(trade.trade_id, latest[(trade.account_id, trade.instrument_id)])
        if ssi := batch.ssi:
            rows = push_ssi(store, reference, _frame(ssi, "ssi"))
            pushed["ssi_state"] = len(rows)
            self._touch_ssi_trades(rows, plan, stored)
        if outcomes := batch.outcome:
            live = [stored[e.trade_id] for e in outcomes if e.trade_id in stored]
            histories = push_outcomes(
                store,
                reference,
                _frame(outcomes, "outcomes"),
                live_trades=table_frame((t.payload for t in live), TABLES["trades"])
                if live
                else None,
                live_events=_lifecycle_events(live),
            )
            decided = {e.trade_id for e in outcomes}
            known = [(stored[e.trade_id], e.known_ts) for e in outcomes if e.trade_id in stored]
            # per history view moved: the undecided trades of the keys (counterparties,
            # accounts) whose history moved, scored again as of the latest outcome
            for view, key in OUTCOME_KEYS.items():
                pushed[view] = len(histories.get(view, ()))
                latest = _latest((getattr(t, key), at) for t, at in known)
                for trade in self.exceptions.undecided(**{key: latest}):
                    if trade.trade_id not in decided:
                        stored.setdefault(trade.trade_id, trade)
                        plan.touch(trade.trade_id, latest[getattr(trade, key)])
        return pushed

    def _touch_receipt_waiters(
        self, batch: _Batch, stored: dict[str, TradeRow], plan: _Plan
    ) -> None:
        """Undecided sells of an instrument whose buy the batch affirmed, matched, cancelled
        or decided, settling on or after that buy's ISD and within the receipt window: the
        receipt they may wait on moved (added to ``stored``)."""
        moved = [
            (e.trade_id, e.event_ts) for e in batch.lifecycle if e.event_type in _RECEIPT_EVENTS
        ] + [(e.trade_id, e.known_ts) for e in batch.outcome]
        buys = [(stored[t], at) for t, at in moved if t in stored and _side(stored[t]) == "BUY"]
        if not buys:
            return
        latest = _latest((t.instrument_id, at) for t, at in buys)
        first = _earliest((t.instrument_id, t.settlement_date) for t, _ in buys)
        last = _latest((t.instrument_id, t.settlement_date) for t, _ in buys)
        window = dt.timedelta(days=RECEIPT_WINDOW_DAYS)
        decided = {e.trade_id for e in batch.outcome}
        for trade in self.exceptions.undecided(instrument_id=latest):
            instrument = trade.instrument_id
            if (
                _side(trade) == "SELL"
                and trade.trade_id not in decided
                and first[instrument] <= trade.settlement_date <= last[instrument] + window
            ):
                stored.setdefault(trade.trade_id, trade)
                plan.touch(trade.trade_id, latest[instrument])

    def _touch_ssi_trades(
        self, pushed: pd.DataFrame, plan: _Plan, stored: dict[str, TradeRow]
    ) -> None:
        """Undecided trades settling on a pushed SSI: same counterparty, market and asset
        class (added to ``stored``)."""
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
                stored.setdefault(trade.trade_id, trade)
                plan.touch(trade.trade_id, at)

    def _rescore(
        self, plan: _Plan, rows: dict[str, TradeRow]
    ) -> tuple[list[TradeScore], list[Trade], dict[str, float]]:
        """Scores of the undecided trades of the plan (``rows``: the stored trades, every
        one the plan touches among them), the trades scored, and each one's latest
        probability before."""
        ids = [t for t in plan.as_of if t in rows and rows[t].outcome is None]
        trades = [as_trade(rows[t].payload, rows[t].lifecycle) for t in ids]
        scores: list[TradeScore] = []
        if trades:
            as_of = np.array([epoch_us(plan.as_of[t]) for t in ids], dtype=np.int64)
            self.before_rescoring()
            scores = self.scorer().score(trades, as_of)
        return scores, trades, self.exceptions.latest_probability(ids)


def _lifecycle_plan(batch: _Batch, stored: dict[str, TradeRow]) -> _Plan:
    """The lifecycle and outcome each trade of the batch has after it, and the instant of
    its latest lifecycle event."""
    plan = _Plan()
    for event in sorted(batch.lifecycle, key=lambda e: e.event_ts):
        state = plan.lifecycle.get(event.trade_id, stored[event.trade_id].lifecycle)
        plan.lifecycle[event.trade_id] = lifecycle_after(
            state, event.event_type, iso(event.event_ts)
        )
        if event.event_type == CANCELLED:
            plan.decided[event.trade_id] = (CANCELLED, event.event_ts, None)
        plan.touch(event.trade_id, event.event_ts)
    for outcome in batch.outcome:
        plan.decided[outcome.trade_id] = (outcome.status, outcome.known_ts, outcome.fail_reason)
    return plan


def _named(batch: _Batch) -> set[str]:
    """The trades a batch's lifecycle and outcome events name."""
    return {e.trade_id for e in batch.lifecycle} | {e.trade_id for e in batch.outcome}


def _keyed(events: Sequence[AnyEvent]) -> Keyed:
    """The batch by event id; an id twice with other content is refused."""
    keyed: Keyed = {}
    for position, event in enumerate(events):
        key, digest = event_key(event)
        if key in keyed and keyed[key][1] != digest:
            raise Conflict(
                f"events[{position}].event_id {key!r}: given twice in the batch with other "
                "content; an event id names one event"
            )
        keyed.setdefault(key, (event, digest))
    return keyed


def _refuse_conflicts(keyed: Keyed, seen: Mapping[str, tuple[str, int]]) -> None:
    clashes = sorted(
        key for key, (_, digest) in keyed.items() if key in seen and seen[key][0] != digest
    )
    if clashes:
        raise Conflict(
            f"event_id: {_few(clashes)} received before with other content; an event id "
            "names one event (send a new id for a new event)"
        )


def _rescored(score: TradeScore, previous: float | None) -> RescoredTrade:
    return RescoredTrade(
        trade_id=score.trade_id,
        stage=score.stage,
        fail_probability=score.fail_probability,
        previous_probability=previous,
        risk_tier=score.risk_tier,
        expected_cost=score.expected_cost,
        currency=score.currency,
        scored_at=score.scored_at,
    )


def _sum_counts(counts: Iterable[dict[str, int]]) -> dict[str, int]:
    total: dict[str, int] = {}
    for count in counts:
        for name, n in count.items():
            total[name] = total.get(name, 0) + n
    return total


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


_RECEIPT_EVENTS = (AFFIRMED.event, MATCHED.event, CANCELLED)
"""The lifecycle events of a buy that move the receipt a sell waits on."""


def _side(trade: TradeRow) -> str:
    return str(trade.payload["side"])


def _earliest(pairs: Iterable[tuple[Any, _T]]) -> dict[Any, _T]:
    """The earliest value per key."""
    return _per_key(pairs, min)


def _latest(pairs: Iterable[tuple[Any, _T]]) -> dict[Any, _T]:
    """The latest value per key."""
    return _per_key(pairs, max)


def _per_key(pairs: Iterable[tuple[Any, _T]], pick: Callable[[_T, _T], _T]) -> dict[Any, _T]:
    """One value per key: ``pick`` of those given for it."""
    out: dict[Any, _T] = {}
    for key, value in pairs:
        out[key] = pick(out[key], value) if key in out else value
    return out


def _few(values: list[str], shown: int = 5) -> str:
    return ", ".join(values[:shown]) + (
        f" (and {len(values) - shown} more)" if len(values) > shown else ""
    )
