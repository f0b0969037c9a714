"""The exception store: writes that land whole or not at all, and the reads of ``queries``.

A batch of scores and trade updates is one transaction, and a score already stored (same
trade, instant and model version) is never stored twice, so a run killed midway is simply
run again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.actions import NO_REASON
from core.errors import InvalidTransition
from core.settings import Settings
from serving.workflow.store import queries
from serving.workflow.store.engine import make_engine, upgrade
from serving.workflow.store.records import TRADE_FIELDS, Recorded, ScoreRecord, TradeUpdate
from serving.workflow.store.status import ACTIVE, CLOSING, TRANSITIONS, Status, check_transition
from serving.workflow.store.tables import (
    EXCEPTION_SCORE_FIELDS,
    SCORE_FIELDS,
    ExceptionRow,
    HistoryRow,
    ScoreRow,
    TradeRow,
    aware,
)
from serving.workflow.trades import merge_lifecycles, stored_trade

__all__ = ["SYSTEM_ACTOR", "ExceptionStore"]

SYSTEM_ACTOR = "failcast"
"""Who the history names for the changes failcast makes itself."""
_TRADE_KEYS = ["counterparty_id", "account_id", "instrument_id", "settlement_market"]
_NO_REASON = {"action": NO_REASON.text, "team": NO_REASON.team.value}


class ExceptionStore:
    """The store at a SQLAlchemy URL, its schema migrated to the latest revision on open."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.writer = make_engine(url, writer=True)
        upgrade(self.writer)

    @classmethod
    def from_settings(cls, settings: Settings) -> ExceptionStore:
        return cls(settings.exception_store)

    def close(self) -> None:
        self.engine.dispose()
        self.writer.dispose()

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    # writes ------------------------------------------------------------------------------

    def record(
        self,
        scores: Sequence[ScoreRecord],
        now: dt.datetime | None = None,
        updates: Sequence[TradeUpdate] = (),
    ) -> Recorded:
        """Store a batch of scores and trade updates, open or refresh the exceptions of
        at-risk trades and close those no longer at risk or decided, in one transaction."""
        now = now or dt.datetime.now(dt.UTC)
        with Session(self.writer) as session, session.begin():
            _keep_trades(session, scores, updates, now)
            new = self._insert_scores(session, scores)
            latest = _latest_per_trade(scores)
            ids = list(latest.keys() | {u.trade_id for u in updates})
            found = {
                row.trade_id: row
                for row in session.scalars(
                    sa.select(ExceptionRow).where(ExceptionRow.trade_id.in_(ids))
                )
            }
            decided, closed = _close_decided(session, found, updates, now)
            opened = updated = 0
            for trade_id, score in latest.items():
                row = found.get(trade_id)
                if row is None:
                    if score.at_risk and trade_id not in decided:
                        session.add(_new_exception(score, now))
                        session.add(
                            _history(trade_id, now, Status.OPEN, SYSTEM_ACTOR, _opened(score))
                        )
                        opened += 1
                elif row.status in ACTIVE and aware(row.scored_at) <= score.scored_at:
                    for name in EXCEPTION_SCORE_FIELDS:
                        setattr(row, name, getattr(score, name))
                    row.updated_at = now
                    updated += 1
                    if not score.at_risk:
                        row.status = Status.RESOLVED.value
                        session.add(
                            _history(trade_id, now, Status.RESOLVED, SYSTEM_ACTOR, _safe(score))
                        )
                        closed += 1
        return Recorded(new, opened, updated, closed)

    def _insert_scores(self, session: Session, scores: Sequence[ScoreRecord]) -> int:
        if not scores:
            return 0
        rows = [{name: getattr(s, name) for name in SCORE_FIELDS} for s in scores]
        insert = (postgresql if self.writer.dialect.name == "postgresql" else sqlite).insert
        statement = (
            insert(ScoreRow.__table__)
            .on_conflict_do_nothing(index_elements=["trade_id", "scored_at", "model_version"])
            .returning(ScoreRow.__table__.c.id)
        )
        return len(session.connection().execute(statement, rows).all())

    def transition(
        self,
        trade_id: str,
        status: Status | str,
        actor: str,
        note: str = "",
        action_taken: str | None = None,
        now: dt.datetime | None = None,
    ) -> None:
        """Move an exception to ``status`` (acknowledge, resolve, ...), with a history line."""
        status = Status(status)
        now = now or dt.datetime.now(dt.UTC)
        with Session(self.writer) as session, session.begin():
            row = session.get(ExceptionRow, trade_id, with_for_update=True)
            if row is None:
                raise InvalidTransition(f"trade_id {trade_id!r}: no exception for this trade")
            check_transition(trade_id, Status(row.status), status)
            row.status, row.updated_at = status.value, now
            if action_taken:
                row.action_taken = action_taken
            session.add(_history(trade_id, now, status, actor, note or action_taken or ""))

    # reads -------------------------------------------------------------------------------

    def trades(self, trade_ids: Iterable[str]) -> list[TradeRow]:
        with self._reading() as session:
            return queries.trades(session, trade_ids)

    def latest_probability(self, trade_ids: Iterable[str]) -> dict[str, float]:
        with self._reading() as session:
            return queries.latest_probability(session, trade_ids)

    def book(self, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
        with self._reading() as session:
            return queries.book(session, first, last)

    def undecided(
        self,
        counterparty_id: Iterable[str] | None = None,
        positions: Iterable[tuple[str, str]] | None = None,
        ssi: Iterable[tuple[str, str]] | None = None,
    ) -> list[TradeRow]:
        with self._reading() as session:
            return queries.undecided(session, counterparty_id, positions, ssi)

    def queue(
        self,
        settlement_date: dt.date | None = None,
        team: str | None = None,
        capacity: int | None = None,
    ) -> list[ExceptionRow]:
        with self._reading() as session:
            return queries.queue(session, settlement_date, team, capacity)

    def get(self, trade_id: str) -> ExceptionRow | None:
        """A trade's exception, whatever its status."""
        with self._reading() as session:
            return session.get(ExceptionRow, trade_id)

    def trajectory(self, trade_id: str) -> list[ScoreRow]:
        with self._reading() as session:
            return queries.trajectory(session, trade_id)

    def history(self, trade_id: str) -> list[HistoryRow]:
        with self._reading() as session:
            return queries.history(session, trade_id)

    def counts(self) -> dict[str, int]:
        with self._reading() as session:
            return queries.counts(session)


def _keep_trades(
    session: Session,
    scores: Sequence[ScoreRecord],
    updates: Sequence[TradeUpdate],
    now: dt.datetime,
) -> None:
    """Keep each scored trade (its latest fields, every lifecycle step seen) and apply the
    updates."""
    kept = {s.trade_id: stored_trade(s.trade) for s in scores if s.trade is not None}
    ids = list(kept.keys() | {u.trade_id for u in updates})
    if not ids:
        return
    rows = {
        r.trade_id: r
        for r in session.scalars(sa.select(TradeRow).where(TradeRow.trade_id.in_(ids)))
    }
    for trade_id, (payload, lifecycle) in kept.items():
        row = rows.get(trade_id)
        if row is None:
            rows[trade_id] = row = TradeRow(
                trade_id=trade_id,
                **{k: payload[k] for k in _TRADE_KEYS},
                settlement_date=dt.date.fromisoformat(payload["settlement_date"]),
                payload=payload,
                lifecycle=merge_lifecycles(lifecycle, {}),
                outcome=None,
                fail_reason=None,
                updated_at=now,
            )
            session.add(row)
        else:
            row.payload = payload
            row.lifecycle = merge_lifecycles(row.lifecycle, lifecycle)
            row.updated_at = now
    for update in updates:
        row = rows.get(update.trade_id)
        if row is None:
            continue  # an outcome of a trade never scored: nothing kept to update
        if update.lifecycle is not None:
            row.lifecycle = merge_lifecycles(row.lifecycle, update.lifecycle)
        if update.outcome is not None:
            row.outcome, row.fail_reason = update.outcome, update.fail_reason
        row.updated_at = now


def _close_decided(
    session: Session,
    found: dict[str, ExceptionRow],
    updates: Sequence[TradeUpdate],
    now: dt.datetime,
) -> tuple[set[str], int]:
    """Close the exceptions of trades whose outcome arrived; returns the decided trades and
    how many exceptions were closed."""
    decided, closed = set(), 0
    for update in updates:
        if update.outcome is None:
            continue
        decided.add(update.trade_id)
        row = found.get(update.trade_id)
        status = CLOSING[update.outcome]
        if row is None or status not in TRANSITIONS[Status(row.status)]:
            continue
        row.status, row.updated_at = status.value, now
        note = update.note or f"trade {update.outcome.lower()} ({update.at:%Y-%m-%d %H:%M} UTC)"
        session.add(_history(update.trade_id, now, status, SYSTEM_ACTOR, note))
        closed += 1
    return decided, closed


def _latest_per_trade(scores: Iterable[ScoreRecord]) -> dict[str, ScoreRecord]:
    latest: dict[str, ScoreRecord] = {}
    for score in scores:
        if score.trade_id not in latest or latest[score.trade_id].scored_at <= score.scored_at:
            latest[score.trade_id] = score
    return latest


def _new_exception(score: ScoreRecord, now: dt.datetime) -> ExceptionRow:
    top = score.reasons[0] if score.reasons else _NO_REASON
    return ExceptionRow(
        trade_id=score.trade_id,
        status=Status.OPEN.value,
        team=top["team"],
        action=top["action"],
        action_taken=None,
        opened_at=now,
        updated_at=now,
        **{name: getattr(score, name) for name in TRADE_FIELDS + EXCEPTION_SCORE_FIELDS},
    )


def _opened(score: ScoreRecord) -> str:
    return (
        f"opened at {score.stage}: P(fail) {score.fail_probability:.1%}, expected cost "
        f"{score.expected_cost:,.2f} {score.currency}"
    )


def _safe(score: ScoreRecord) -> str:
    return (
        f"no longer at risk at {score.stage}: P(fail) {score.fail_probability:.1%}, expected "
        f"cost {score.expected_cost:,.2f} {score.currency}"
    )


def _history(trade_id: str, at: dt.datetime, status: Status, actor: str, note: str) -> HistoryRow:
    return HistoryRow(trade_id=trade_id, at=at, status=status.value, actor=actor, note=note)
