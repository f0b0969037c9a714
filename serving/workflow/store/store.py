"""The exception store: writes that land whole or not at all, and the reads of ``queries``.

A batch of scores and trade updates is one transaction, and a score already stored (same
trade, instant and model version) is never stored twice, so a run killed midway is simply
run again. A database that does not answer is a ``StoreUnavailable`` naming it (password
masked), never a raw driver error: the caller may try again.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.errors import InvalidTransition, StoreUnavailable
from core.settings import Settings
from serving.workflow.store import queries
from serving.workflow.store.engine import make_engine, upgrade
from serving.workflow.store.exceptions import (
    Changes,
    close_decided,
    follow,
    history,
    latest_per_trade,
    mark_overdue,
)
from serving.workflow.store.records import Recorded, ScoreRecord, TradeUpdate
from serving.workflow.store.status import Status, check_transition
from serving.workflow.store.tables import (
    SCORE_FIELDS,
    ClockRow,
    DeadLetterRow,
    ExceptionRow,
    HistoryRow,
    ScoreRow,
    TradeRow,
    aware,
)
from serving.workflow.trades import merge_lifecycles, stored_trade

__all__ = ["ExceptionStore"]

_TRADE_KEYS = ["counterparty_id", "account_id", "instrument_id", "settlement_market"]
Clock = Literal["events", "wall"]


class ExceptionStore:
    """The store at a SQLAlchemy URL, its schema migrated to the latest revision on open.

    ``clock`` says what "now" is for settlement deadlines: the latest instant among the scores
    and events stored (so a replay of the past lives in its own time), or the wall clock.
    ``grace`` is how long after the end of its ISD a trade may go without an outcome before
    its exception is OVERDUE."""

    def __init__(
        self,
        url: str,
        clock: Clock = "events",
        grace: dt.timedelta = dt.timedelta(hours=2),
        lazy: bool = False,
    ) -> None:
        self.url, self.clock_kind, self.grace = url, clock, grace
        self.name = sa.make_url(url).render_as_string(hide_password=True)
        self.engine = make_engine(url)
        self.writer = make_engine(url, writer=True)
        self._migrated = False
        self._migrating = threading.Lock()
        if not lazy:  # a lazy store connects (and migrates) on first use: a service starts
            self._ensure_schema()  # while its database is down, and catches up later

    @classmethod
    def from_settings(cls, settings: Settings, lazy: bool = False) -> ExceptionStore:
        return cls(
            settings.exception_store,
            clock=settings.clock,
            grace=dt.timedelta(minutes=settings.outcome_grace_minutes),
            lazy=lazy,
        )

    def close(self) -> None:
        self.engine.dispose()
        self.writer.dispose()

    def _ensure_schema(self) -> None:
        if self._migrated:
            return
        with self._migrating, self._available():
            if not self._migrated:
                upgrade(self.writer)
                self._migrated = True

    @contextmanager
    def _available(self) -> Iterator[None]:
        """Turn a database that does not answer into ``StoreUnavailable``."""
        try:
            yield
        except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as exc:
            raise StoreUnavailable(
                f"the exception store at {self.name} does not answer: {_reason(exc)}"
            ) from exc

    @contextmanager
    def _reading(self) -> Iterator[Session]:
        self._ensure_schema()
        with self._available(), Session(self.engine, expire_on_commit=False) as session:
            yield session

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        """One write transaction (SQLite: BEGIN IMMEDIATE), committed when the block ends."""
        self._ensure_schema()
        with self._available(), Session(self.writer) as session, session.begin():
            yield session

    def ping(self) -> None:
        """Raise ``StoreUnavailable`` unless the store answers now."""
        with self._reading() as session:
            session.execute(sa.text("SELECT 1"))

    # writes ------------------------------------------------------------------------------

    def record(
        self,
        scores: Sequence[ScoreRecord],
        now: dt.datetime | None = None,
        updates: Sequence[TradeUpdate] = (),
    ) -> Recorded:
        """Store a batch of scores and trade updates in one transaction: exceptions open,
        follow their trades' newest scores, close, reopen and go OVERDUE as
        ``exceptions`` says."""
        now = now or dt.datetime.now(dt.UTC)
        changes = Changes()
        with self._writing() as session:
            trades = _keep_trades(session, scores, updates, now)
            new = self._insert_scores(session, scores)
            latest = latest_per_trade(scores)
            ids = list(latest.keys() | {u.trade_id for u in updates})
            found = {
                row.trade_id: row
                for row in session.scalars(
                    sa.select(ExceptionRow).where(ExceptionRow.trade_id.in_(ids))
                )
            }
            decided = close_decided(session, found, updates, now, changes)
            undecided = {
                trade_id
                for trade_id in latest
                if trade_id not in decided
                and (trade_id not in trades or trades[trade_id].outcome is None)
            }
            follow(session, found, latest, undecided, now, changes)
            clock = _advance_clock(session, [s.scored_at for s in scores] + [u.at for u in updates])
            session.flush()
            if (now_for_deadlines := self._now(clock)) is not None:
                mark_overdue(session, now_for_deadlines, self.grace, changes)
        return Recorded(
            new, changes.opened, changes.updated, changes.closed, changes.reopened, changes.overdue
        )

    def sweep(self) -> int:
        """Move the exceptions of trades past their settlement deadline to OVERDUE (the
        service does it every minute; every write does it too); how many moved."""
        changes = Changes()
        with self._writing() as session:
            clock = session.get(ClockRow, 1)
            if (now_for_deadlines := self._now(clock.at if clock else None)) is not None:
                mark_overdue(session, now_for_deadlines, self.grace, changes)
        return changes.overdue

    def dead_letter(
        self, source: str, kind: str, key: str | None, payload: dict[str, Any], error: str
    ) -> None:
        """Keep a record that could not be stored, with its error; ``source`` says where it
        came from, once (the same source again changes nothing)."""
        row = {
            "source": source,
            "at": dt.datetime.now(dt.UTC),
            "kind": kind,
            "key": key,
            "payload": payload,
            "error": error,
        }
        insert = (postgresql if self.writer.dialect.name == "postgresql" else sqlite).insert
        with self._writing() as session:
            statement = insert(DeadLetterRow.__table__).on_conflict_do_nothing(
                index_elements=["source"]
            )
            session.connection().execute(statement, [row])

    def dead_letters(self, limit: int = 100) -> tuple[int, list[DeadLetterRow]]:
        """How many records are dead letters, and the latest of them."""
        with self._reading() as session:
            total = session.scalar(sa.select(sa.func.count()).select_from(DeadLetterRow)) or 0
            latest = sa.select(DeadLetterRow).order_by(DeadLetterRow.id.desc()).limit(limit)
            return total, list(session.scalars(latest))

    def clock(self) -> dt.datetime | None:
        """The latest instant among the scores and events stored (None: none yet)."""
        with self._reading() as session:
            row = session.get(ClockRow, 1)
            return aware(row.at) if row else None

    def _now(self, clock: dt.datetime | None) -> dt.datetime | None:
        """What "now" is for deadlines; None on the events clock before any event."""
        if self.clock_kind == "wall":
            return dt.datetime.now(dt.UTC)
        return None if clock is None else aware(clock)

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
        with self._writing() as session:
            row = session.get(ExceptionRow, trade_id, with_for_update=True)
            if row is None:
                raise InvalidTransition(f"trade_id {trade_id!r}: no exception for this trade")
            check_transition(trade_id, Status(row.status), status)
            row.status, row.updated_at = status.value, now
            if status is Status.RESOLVED:
                row.resolved_by, row.resolved_tier = actor, row.risk_tier
            elif status is Status.OPEN:
                row.resolved_by = row.resolved_tier = None
            if action_taken:
                row.action_taken = action_taken
            session.add(history(trade_id, now, status, actor, note or action_taken or ""))

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

    def hidden_risk(self) -> list[str]:
        with self._reading() as session:
            return queries.hidden_risk(session)

    def counts(self) -> dict[str, int]:
        with self._reading() as session:
            return queries.counts(session)


def _keep_trades(
    session: Session,
    scores: Sequence[ScoreRecord],
    updates: Sequence[TradeUpdate],
    now: dt.datetime,
) -> dict[str, TradeRow]:
    """Keep each scored trade (its latest fields, every lifecycle step seen) and apply the
    updates; the stored rows of the trades named."""
    kept = {s.trade_id: stored_trade(s.trade) for s in scores if s.trade is not None}
    ids = list(kept.keys() | {u.trade_id for u in updates} | {s.trade_id for s in scores})
    if not ids:
        return {}
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
    return rows


def _advance_clock(session: Session, instants: Sequence[dt.datetime]) -> dt.datetime | None:
    """Move the store's clock to the latest of ``instants`` (never back); its new reading."""
    row = session.get(ClockRow, 1, with_for_update=True)
    latest = max(instants, default=None)
    if latest is None:
        return aware(row.at) if row else None
    if row is None:
        session.add(ClockRow(id=1, at=latest))
        return latest
    if aware(row.at) < latest:
        row.at = latest
    return aware(row.at)


def _reason(exc: sa.exc.DBAPIError | sa.exc.TimeoutError) -> str:
    """The driver's own message, first line: what a person on call needs to see."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
