"""The exception store: writes that land whole or not at all, and the reads of ``queries``.

A batch of scores and trade updates is one transaction, and a score already stored (same
trade, instant and model version) is never stored twice, so a run killed midway is simply
run again. A database that does not answer is a ``StoreUnavailable`` naming it (password
masked), never a raw driver error: the caller may try again.
"""

from __future__ import annotations

import datetime as dt
import getpass
import random
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Literal, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from core.access import Principal, Role
from core.errors import InvalidTransition, StoreUnavailable
from core.settings import Settings
from serving.workflow.store import queries
from serving.workflow.store import users as accounts
from serving.workflow.store.engine import make_engine, upgrade
from serving.workflow.store.exceptions import (
    Changes,
    close_decided,
    follow,
    history,
    latest_per_trade,
    mark_overdue,
    outcome_due,
)
from serving.workflow.store.records import OutboxEntry, Recorded, ScoreRecord, TradeUpdate
from serving.workflow.store.status import Status, check_transition
from serving.workflow.store.tables import (
    SCORE_FIELDS,
    Base,
    ClockRow,
    DeadLetterRow,
    ExceptionRow,
    HistoryRow,
    InboxRow,
    OutboxRow,
    ScoreRow,
    TradeRow,
    UserRow,
    aware,
)
from serving.workflow.trades import merge_lifecycles, stored_trade

__all__ = ["ExceptionStore"]

_TRADE_KEYS = ["counterparty_id", "account_id", "instrument_id", "settlement_market"]
Clock = Literal["events", "wall"]
T = TypeVar("T")
_RETRIES = 5
_RETRYABLE = {"23505", "40001", "40P01"}
"""PostgreSQL's unique violation, serialisation failure and deadlock: a concurrent writer's."""
_IN_CHUNK = 5_000
"""Keys per IN (...) list."""


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
            if isinstance(exc, sa.exc.DBAPIError) and _sqlstate(exc) in _RETRYABLE:
                raise  # a concurrent writer's: ``_transaction`` runs the work again
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
        return self._transaction(lambda session: self._record(session, scores, updates, now))

    def _record(
        self,
        session: Session,
        scores: Sequence[ScoreRecord],
        updates: Sequence[TradeUpdate],
        now: dt.datetime,
    ) -> Recorded:
        changes = Changes()
        trades = _keep_trades(session, scores, updates, now)
        new = self._insert_scores(session, scores)
        latest = latest_per_trade(scores)
        ids = sorted(latest.keys() | {u.trade_id for u in updates})
        # rows locked in key order (PostgreSQL; SQLite's writers take turns): two writers
        # of one trade queue, and never deadlock
        found = {
            row.trade_id: row
            for row in session.scalars(
                sa.select(ExceptionRow)
                .where(ExceptionRow.trade_id.in_(ids))
                .order_by(ExceptionRow.trade_id)
                .with_for_update()
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

    def _transaction(self, work: Callable[[Session], T]) -> T:
        """``work`` in one write transaction, run again when PostgreSQL refuses it for a
        concurrent one (two writers inserting one new trade, a deadlock, a serialisation
        failure): the second writer then sees the first's rows."""
        for attempt in range(_RETRIES):
            try:
                with self._writing() as session:
                    return work(session)
            except sa.exc.DBAPIError as exc:
                if attempt == _RETRIES - 1 or _sqlstate(exc) not in _RETRYABLE:
                    raise
                time.sleep(random.uniform(0.005, 0.05) * (attempt + 1))
        raise AssertionError("unreachable")

    # events: inbox and outbox -----------------------------------------------------------

    def received(self, event_ids: Iterable[str]) -> dict[str, tuple[str, int]]:
        """The events among ``event_ids`` received before: id -> (digest, outbox entry)."""
        ids = list(event_ids)
        out: dict[str, tuple[str, int]] = {}
        with self._reading() as session:
            for first in range(0, len(ids), _IN_CHUNK):
                rows = session.execute(
                    sa.select(InboxRow.event_id, InboxRow.digest, InboxRow.entry_id).where(
                        InboxRow.event_id.in_(ids[first : first + _IN_CHUNK])
                    )
                )
                out.update({event_id: (digest, entry) for event_id, digest, entry in rows})
        return out

    def accept(
        self,
        inbox: Sequence[tuple[str, str, str]],
        entry: OutboxEntry,
        updates: Sequence[TradeUpdate],
        lease: dt.timedelta,
        now: dt.datetime | None = None,
    ) -> tuple[int, Recorded] | None:
        """Take events in, in one transaction: their ids (``inbox``: id, digest, kind), what
        they still have to do (``entry``, claimed for ``lease`` by the caller) and the trade
        updates they make. None when another writer took one of the ids first (nothing is
        written; the caller looks again)."""
        now = now or dt.datetime.now(dt.UTC)

        def work(session: Session) -> tuple[int, Recorded] | None:
            row = OutboxRow(
                created_at=now,
                events=entry.events,
                rescore=entry.rescore,
                claimed_until=now + lease,
                attempts=0,
            )
            session.add(row)
            session.flush()
            statement = self._insert(InboxRow).on_conflict_do_nothing(index_elements=["event_id"])
            taken = session.execute(
                statement.returning(InboxRow.event_id),
                [
                    {"event_id": i, "digest": d, "kind": k, "received_at": now, "entry_id": row.id}
                    for i, d, k in inbox
                ],
            ).all()
            if len(taken) < len(inbox):
                raise _Raced
            return row.id, self._record(session, [], updates, now)

        try:
            return self._transaction(work)
        except _Raced:
            return None

    def claimable(self, limit: int, now: dt.datetime | None = None) -> list[OutboxEntry]:
        """Entries not done whose claim (if any) has run out, oldest first."""
        now = now or dt.datetime.now(dt.UTC)
        with self._reading() as session:
            rows = session.scalars(
                sa.select(OutboxRow)
                .where(
                    OutboxRow.done_at.is_(None),
                    sa.or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
                )
                .order_by(OutboxRow.id)
                .limit(limit)
            )
            return [OutboxEntry.of(row) for row in rows]

    def undone(self, entry_ids: Iterable[int]) -> set[int]:
        """The entries among ``entry_ids`` not done yet."""
        ids = list(entry_ids)
        if not ids:
            return set()
        with self._reading() as session:
            pending = sa.select(OutboxRow.id).where(
                OutboxRow.id.in_(ids), OutboxRow.done_at.is_(None)
            )
            return set(session.scalars(pending))

    def claim(self, entry_id: int, lease: dt.timedelta, now: dt.datetime | None = None) -> bool:
        """Claim an entry for ``lease`` unless it is done or claimed by someone else."""
        now = now or dt.datetime.now(dt.UTC)
        with self._writing() as session:
            claimed = session.execute(
                sa.update(OutboxRow)
                .where(
                    OutboxRow.id == entry_id,
                    OutboxRow.done_at.is_(None),
                    sa.or_(OutboxRow.claimed_until.is_(None), OutboxRow.claimed_until < now),
                )
                .values(claimed_until=now + lease)
            )
            return bool(getattr(claimed, "rowcount", 0))

    def finish(
        self, entry_id: int, scores: Sequence[ScoreRecord], now: dt.datetime | None = None
    ) -> Recorded:
        """An entry's scores stored and the entry done, in one transaction."""
        now = now or dt.datetime.now(dt.UTC)

        def work(session: Session) -> Recorded:
            recorded = self._record(session, scores, [], now)
            session.execute(
                sa.update(OutboxRow)
                .where(OutboxRow.id == entry_id)
                .values(done_at=now, claimed_until=None)
            )
            return recorded

        return self._transaction(work)

    def release(
        self, entry_id: int, error: str | None, give_up_after: int, now: dt.datetime | None = None
    ) -> bool:
        """Free an entry's claim after a failed attempt. With an ``error`` the attempt
        counts, and after ``give_up_after`` of them the entry is a dead letter (and done):
        True if it is now. Without one (a store was down) nothing counts."""
        now = now or dt.datetime.now(dt.UTC)
        with self._writing() as session:
            row = session.get(OutboxRow, entry_id, with_for_update=True)
            if row is None or row.done_at is not None:
                return False
            row.claimed_until = None
            if error is None:
                return False
            row.attempts += 1
            row.last_error = error[:2_000]
            if row.attempts < give_up_after:
                return False
            row.done_at = now
            self._dead_letter(
                session,
                f"outbox:{entry_id}",
                "events",
                None,
                {"events": row.events, "rescore": row.rescore},
                error,
            )
            return True

    def pending_entries(self) -> int:
        """Entries of events whose effects are not applied yet."""
        with self._reading() as session:
            count = sa.select(sa.func.count()).where(OutboxRow.done_at.is_(None))
            return session.scalar(count) or 0

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
        with self._writing() as session:
            self._dead_letter(session, source, kind, key, payload, error)

    def _dead_letter(
        self,
        session: Session,
        source: str,
        kind: str,
        key: str | None,
        payload: dict[str, Any],
        error: str,
    ) -> None:
        row = {
            "source": source,
            "at": dt.datetime.now(dt.UTC),
            "kind": kind,
            "key": key,
            "payload": payload,
            "error": error,
        }
        statement = self._insert(DeadLetterRow).on_conflict_do_nothing(index_elements=["source"])
        session.execute(statement, [row])

    def _insert(self, table: type[Base]) -> Any:
        """An INSERT that can skip rows already there (ON CONFLICT DO NOTHING)."""
        dialect = postgresql if self.writer.dialect.name == "postgresql" else sqlite
        return dialect.insert(table)

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
        actor: Principal | str,
        note: str = "",
        action_taken: str | None = None,
        now: dt.datetime | None = None,
        team: str | None = None,
    ) -> None:
        """Move an exception to ``status`` (acknowledge, resolve, ...), with a history line.
        ``actor`` is the authenticated caller (their teams checked against the exception's)
        or, for the system and tests, a name; ``team`` reassigns the exception (a lead's)."""
        status = Status(status)
        now = now or dt.datetime.now(dt.UTC)
        with self._writing() as session:
            row = session.get(ExceptionRow, trade_id, with_for_update=True)
            if row is None:
                raise InvalidTransition(f"trade_id {trade_id!r}: no exception for this trade")
            if isinstance(actor, Principal):
                actor.require_team(row.team, f"changing the exception of {trade_id!r}")
                if team is not None and team != row.team:
                    actor.require({Role.LEAD}, "reassigning an exception to another team")
                if status in (Status.SETTLED, Status.FAILED):  # outcomes come from the feed
                    actor.require({Role.LEAD}, f"recording an outcome ({status}) by hand")
            reassigned = team is not None and team != row.team
            if not (reassigned and status == row.status):  # a reassignment alone keeps it
                check_transition(trade_id, Status(row.status), status)
            name = actor.subject if isinstance(actor, Principal) else actor
            row.status, row.updated_at = status.value, now
            if status is Status.RESOLVED:
                row.resolved_by, row.resolved_tier = name, row.risk_tier
            elif status is Status.OPEN:
                row.resolved_by = row.resolved_tier = None
            if action_taken:
                row.action_taken = action_taken
            text = note or action_taken or ""
            if reassigned and team is not None:
                text = f"reassigned from {row.team} to {team}" + (f"; {text}" if text else "")
                row.team = team
            session.add(history(trade_id, now, status, name, text))

    # users and the audit trail -----------------------------------------------------------

    def add_user(self, name: str, role: Role, teams: Sequence[str] = ()) -> accounts.IssuedKey:
        """A new user and their API key (shown once: only its hash is kept)."""
        with self._writing() as session:
            issued = accounts.add_user(session, name, role, teams)
            accounts.append_audit(session, [_cli_entry("users add", f"{name} as {role}")])
            return issued

    def revoke_user(self, name: str) -> None:
        """The user's key stops working (each worker forgets keys it knew within seconds)."""
        with self._writing() as session:
            accounts.revoke_user(session, name)
            accounts.append_audit(session, [_cli_entry("users revoke", name)])

    def users(self) -> list[UserRow]:
        with self._reading() as session:
            return accounts.listed(session)

    def key_holder(self, key: str) -> Principal | None:
        """Who holds this API key (None: nobody allowed in)."""
        with self._reading() as session:
            return accounts.holder(session, key)

    def append_audit(self, entries: Sequence[accounts.AuditEntry]) -> None:
        with self._writing() as session:
            accounts.append_audit(session, entries)

    def audit(
        self, since: dt.datetime | None = None, subject: str | None = None, limit: int = 1_000
    ) -> list[accounts.AuditEntry]:
        with self._reading() as session:
            return accounts.audit_rows(session, since, subject, limit)

    # reads -------------------------------------------------------------------------------

    def trades(self, trade_ids: Iterable[str]) -> list[TradeRow]:
        with self._reading() as session:
            return queries.trades(session, trade_ids)

    def changed_trades(
        self,
        settling_from: dt.date,
        changed_since: dt.datetime | None = None,
        held: Mapping[str, dt.datetime] | None = None,
    ) -> list[queries.BookRow]:
        """(trade id, last change, contract fields, lifecycle) of the trades settling on or
        after ``settling_from`` (changed since ``changed_since``, when given), less those
        ``held`` as of their last change."""
        with self._reading() as session:
            return queries.changed_trades(session, settling_from, changed_since, held or {})

    def latest_probability(self, trade_ids: Iterable[str]) -> dict[str, float]:
        with self._reading() as session:
            return queries.latest_probability(session, trade_ids)

    def last_settlement_date(self) -> dt.date | None:
        with self._reading() as session:
            return queries.last_settlement_date(session)

    def book(self, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
        with self._reading() as session:
            return queries.book(session, first, last)

    def undecided(
        self,
        counterparty_id: Iterable[str] | None = None,
        positions: Iterable[tuple[str, str]] | None = None,
        ssi: Iterable[tuple[str, str]] | None = None,
        account_id: Iterable[str] | None = None,
        instrument_id: Iterable[str] | None = None,
    ) -> list[TradeRow]:
        with self._reading() as session:
            return queries.undecided(
                session, counterparty_id, positions, ssi, account_id, instrument_id
            )

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

    def people_actions(self, first: dt.date, last: dt.date) -> list[HistoryRow]:
        with self._reading() as session:
            return queries.people_actions(session, first, last)

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
    locked = (
        sa.select(TradeRow)
        .where(TradeRow.trade_id.in_(sorted(ids)))
        .order_by(TradeRow.trade_id)
        .with_for_update()
    )
    rows = {r.trade_id: r for r in session.scalars(locked)}
    columns = _trade_columns([payload for payload, _ in kept.values()])
    for (trade_id, (payload, lifecycle)), found in zip(kept.items(), columns, strict=True):
        row = rows.get(trade_id)
        if row is None:
            rows[trade_id] = row = TradeRow(
                trade_id=trade_id,
                **found,
                payload=payload,
                lifecycle=merge_lifecycles(lifecycle, {}),
                outcome=None,
                fail_reason=None,
                outcome_at=None,
                updated_at=now,
            )
            session.add(row)
        else:  # the columns found from the fields follow them (a new ISD, a new market)
            lifecycle = merge_lifecycles(row.lifecycle, lifecycle)
            _change(row, now, **found, payload=payload, lifecycle=lifecycle)
    for update in updates:
        row = rows.get(update.trade_id)
        if row is None:
            continue  # an outcome of a trade never scored: nothing kept to update
        if update.lifecycle is not None:
            _change(row, now, lifecycle=merge_lifecycles(row.lifecycle, update.lifecycle))
        if update.outcome is not None:
            _change(
                row,
                now,
                outcome=update.outcome,
                fail_reason=update.fail_reason,
                outcome_at=update.at,
            )
    return rows


def _trade_columns(payloads: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The columns a trade row is found by, from each trade's contract fields."""
    dates = [dt.date.fromisoformat(p["settlement_date"]) for p in payloads]
    due = outcome_due(dates, [p["settlement_market"] for p in payloads])
    return [
        {**{k: p[k] for k in _TRADE_KEYS}, "settlement_date": d, "outcome_due": at}
        for p, d, at in zip(payloads, dates, due, strict=True)
    ]


def _change(row: TradeRow, now: dt.datetime, **values: Any) -> None:
    """Set the row's fields to ``values``, stamped ``now`` only if one of them changed: a
    trade scored again as it was is not a change (the intraday book reads changes)."""
    changed = {
        name: value for name, value in values.items() if not _same(getattr(row, name), value)
    }
    for name, value in changed.items():
        setattr(row, name, value)
    if changed:
        row.updated_at = now


def _same(stored: Any, value: Any) -> bool:
    if isinstance(stored, dt.datetime) and isinstance(value, dt.datetime):
        return aware(stored) == aware(value)  # SQLite hands instants back naive
    return bool(stored == value)


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


class _Raced(Exception):
    """Another writer took an event id first: this transaction is rolled back."""


def _cli_entry(route: str, detail: str) -> accounts.AuditEntry:
    """A change made with the command line, by whoever runs it on the store's machine."""
    who = getpass.getuser()
    return accounts.AuditEntry(
        dt.datetime.now(dt.UTC), f"os:{who}"[:64], "admin", "cli", route, 0, detail
    )


def _sqlstate(exc: sa.exc.DBAPIError) -> str | None:
    orig = exc.orig
    state = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    return state if isinstance(state, str) else None


def _reason(exc: sa.exc.DBAPIError | sa.exc.TimeoutError) -> str:
    """The driver's own message, first line: what a person on call needs to see."""
    orig = getattr(exc, "orig", None) or exc
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__
