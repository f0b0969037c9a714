"""The exception store: every score, every scored trade with its lifecycle so far (what
re-scoring needs), and one exception per at-risk trade with its status, owning team, action
taken and history (SQLAlchemy; a SQLite file under the project home by default, PostgreSQL by
URL).

Writes are transactional and idempotent: a batch of scores and trade updates lands whole or
not at all, and a score already stored (same trade, instant and model version) is never stored
twice, so a run killed midway is simply run again.

An exception leaves the queue when its trade settles or fails, when someone resolves it, or
when a later score finds the trade no longer at risk (resolved by failcast, with the score).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, aliased, mapped_column

from core.actions import NO_REASON
from core.costs import in_reporting_currency
from core.errors import InvalidTransition
from core.settings import Settings
from serving.workflow.trades import merge_lifecycles, stored_trade

__all__ = [
    "EXCEPTION_FIELDS",
    "ExceptionStore",
    "Recorded",
    "ScoreRecord",
    "Status",
    "TradeUpdate",
    "as_dict",
]


class Status(StrEnum):
    OPEN = "OPEN"
    ACKNOWLEDGED = "ACKNOWLEDGED"
    RESOLVED = "RESOLVED"
    SETTLED = "SETTLED"
    FAILED = "FAILED"


ACTIVE = (Status.OPEN, Status.ACKNOWLEDGED)
"""Statuses that keep a trade in the queue."""
TRANSITIONS: dict[Status, tuple[Status, ...]] = {
    Status.OPEN: (Status.ACKNOWLEDGED, Status.RESOLVED, Status.SETTLED, Status.FAILED),
    Status.ACKNOWLEDGED: (Status.OPEN, Status.RESOLVED, Status.SETTLED, Status.FAILED),
    Status.RESOLVED: (Status.OPEN, Status.SETTLED, Status.FAILED),
    Status.SETTLED: (),
    Status.FAILED: (),
}
"""Who may follow whom: settled and failed trades are closed for good."""


class _Base(DeclarativeBase):
    pass


class _Score:
    """A score's columns: of every stored score, and of an exception's latest."""

    scored_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    model_version: Mapped[str] = mapped_column(sa.String(32))
    stage: Mapped[str] = mapped_column(sa.String(16))
    fail_probability: Mapped[float]
    risk_tier: Mapped[str] = mapped_column(sa.String(8))
    predicted_cause: Mapped[str] = mapped_column(sa.String(32))
    expected_cost: Mapped[float]
    currency: Mapped[str] = mapped_column(sa.String(3))
    expected_cost_usd: Mapped[float]  # what the queue ranks by
    reasons: Mapped[list] = mapped_column(sa.JSON)


class ScoreRow(_Score, _Base):
    __tablename__ = "scores"
    __table_args__ = (sa.UniqueConstraint("trade_id", "scored_at", "model_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trade_id: Mapped[str] = mapped_column(sa.String(64), index=True)


class ExceptionRow(_Score, _Base):
    __tablename__ = "exceptions"
    __table_args__ = (sa.Index("ix_exceptions_expected_cost_usd", "expected_cost_usd"),)

    trade_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    team: Mapped[str] = mapped_column(sa.String(64), index=True)
    action: Mapped[str] = mapped_column(sa.Text)
    action_taken: Mapped[str | None] = mapped_column(sa.Text)
    opened_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    settlement_date: Mapped[dt.date] = mapped_column(sa.Date, index=True)
    counterparty_id: Mapped[str] = mapped_column(sa.String(64))
    instrument_id: Mapped[str] = mapped_column(sa.String(64))
    desk_id: Mapped[str] = mapped_column(sa.String(64))
    settlement_market: Mapped[str] = mapped_column(sa.String(8))
    notional: Mapped[float]


class TradeRow(_Base):
    """A scored trade, kept so that an event can have it scored again."""

    __tablename__ = "trades"
    __table_args__ = (sa.Index("ix_trades_open_account", "outcome", "account_id", "instrument_id"),)

    trade_id: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    counterparty_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    account_id: Mapped[str] = mapped_column(sa.String(64))
    instrument_id: Mapped[str] = mapped_column(sa.String(64))
    settlement_market: Mapped[str] = mapped_column(sa.String(8))
    settlement_date: Mapped[dt.date] = mapped_column(sa.Date)
    payload: Mapped[dict] = mapped_column(sa.JSON)  # the contract's fields
    lifecycle: Mapped[dict] = mapped_column(sa.JSON)
    outcome: Mapped[str | None] = mapped_column(sa.String(16))  # SETTLED, FAILED, CANCELLED
    fail_reason: Mapped[str | None] = mapped_column(sa.String(32))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


class HistoryRow(_Base):
    __tablename__ = "exception_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    trade_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    status: Mapped[str] = mapped_column(sa.String(16))
    actor: Mapped[str] = mapped_column(sa.String(64))
    note: Mapped[str] = mapped_column(sa.Text)


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
            **{name: score[name] for name in _EXCEPTION_SCORE_FIELDS if name in _GIVEN},
            scored_at=stamp
            if isinstance(stamp, dt.datetime)
            else dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")),
            trade_id=score["trade_id"],
            **{name: getattr(trade, name) for name in _TRADE_FIELDS},
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


_SCORE_FIELDS = [c.name for c in ScoreRow.__table__.columns if c.name != "id"]
_CLOSING = {"SETTLED": Status.SETTLED, "FAILED": Status.FAILED, "CANCELLED": Status.RESOLVED}
"""Exception status once the trade's outcome is known (a cancelled trade needs no work)."""
_EXCEPTION_SCORE_FIELDS = list(_Score.__annotations__)
"""What an exception shows of its latest score."""
_GIVEN = set(_EXCEPTION_SCORE_FIELDS) - {"scored_at", "expected_cost_usd"}
"""Score fields a ``/score`` result gives as they are."""
_TRADE_KEYS = ["counterparty_id", "account_id", "instrument_id", "settlement_market"]
_TRADE_FIELDS = [
    "settlement_date",
    "counterparty_id",
    "instrument_id",
    "desk_id",
    "settlement_market",
    "notional",
]
EXCEPTION_FIELDS = [c.name for c in ExceptionRow.__table__.columns if c.name not in ("updated_at",)]
"""What a queue entry shows: every column of an exception."""


def as_dict(row: ExceptionRow) -> dict:
    return {name: getattr(row, name) for name in EXCEPTION_FIELDS}


_NO_REASON = {"action": NO_REASON.text, "team": NO_REASON.team.value}


@dataclass(frozen=True)
class Recorded:
    scores: int  # new score rows (a score stored before is not counted again)
    opened: int  # exceptions opened
    updated: int  # open exceptions given a newer score
    closed: int = 0  # exceptions closed: the trade settled, failed, was cancelled or is safe


class ExceptionStore:
    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = sa.create_engine(url)
        _Base.metadata.create_all(self.engine)

    @classmethod
    def from_settings(cls, settings: Settings) -> ExceptionStore:
        return cls(settings.exception_store)

    def close(self) -> None:
        self.engine.dispose()

    def record(
        self,
        scores: Sequence[ScoreRecord],
        now: dt.datetime | None = None,
        updates: Sequence[TradeUpdate] = (),
    ) -> Recorded:
        """Store a batch of scores and trade updates, open or refresh the exceptions of
        at-risk trades and close those no longer at risk or decided, in one transaction."""
        now = now or dt.datetime.now(dt.UTC)
        with Session(self.engine) as session, session.begin():
            self._keep_trades(session, scores, updates, now)
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
                            _history(trade_id, now, Status.OPEN, "failcast", _opened(score))
                        )
                        opened += 1
                elif row.status in ACTIVE and _aware(row.scored_at) <= score.scored_at:
                    for name in _EXCEPTION_SCORE_FIELDS:
                        setattr(row, name, getattr(score, name))
                    row.updated_at = now
                    updated += 1
                    if not score.at_risk:
                        row.status = Status.RESOLVED.value
                        session.add(
                            _history(trade_id, now, Status.RESOLVED, "failcast", _safe(score))
                        )
                        closed += 1
        return Recorded(new, opened, updated, closed)

    def _keep_trades(
        self,
        session: Session,
        scores: Sequence[ScoreRecord],
        updates: Sequence[TradeUpdate],
        now: dt.datetime,
    ) -> None:
        """Keep each scored trade (its latest fields, every lifecycle step seen) and apply
        the updates."""
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

    def trades(self, trade_ids: Iterable[str]) -> list[TradeRow]:
        """The stored trades among ``trade_ids``."""
        return self._all(sa.select(TradeRow).where(TradeRow.trade_id.in_(list(trade_ids))))

    def latest_probability(self, trade_ids: Iterable[str]) -> dict[str, float]:
        """Each trade's latest stored fail probability."""
        latest = (
            sa.select(ScoreRow.trade_id, sa.func.max(ScoreRow.scored_at).label("at"))
            .where(ScoreRow.trade_id.in_(list(trade_ids)))
            .group_by(ScoreRow.trade_id)
            .subquery()
        )
        query = sa.select(ScoreRow.trade_id, ScoreRow.fail_probability).join(
            latest, (ScoreRow.trade_id == latest.c.trade_id) & (ScoreRow.scored_at == latest.c.at)
        )
        with Session(self.engine) as session:
            return {trade_id: p for trade_id, p in session.execute(query)}

    def book(self, first: dt.date, last: dt.date) -> list[dict]:
        """Every stored trade settling from ``first`` to ``last``: its fields, its latest
        score, its outcome and its exception's status (None if it never had one)."""
        other = aliased(ScoreRow)
        newest = (  # the trade's latest scoring instant
            sa.select(sa.func.max(other.scored_at))
            .where(other.trade_id == TradeRow.trade_id)
            .scalar_subquery()
        )
        query = (
            sa.select(TradeRow, ScoreRow, ExceptionRow.status)
            .join(ScoreRow, ScoreRow.trade_id == TradeRow.trade_id)
            .outerjoin(ExceptionRow, ExceptionRow.trade_id == TradeRow.trade_id)
            .where(TradeRow.settlement_date.between(first, last), ScoreRow.scored_at == newest)
            .order_by(TradeRow.trade_id, ScoreRow.id.desc())  # the newest row among ties
        )
        out: dict[str, dict] = {}
        with Session(self.engine) as session:
            for trade, score, status in session.execute(query):
                if trade.trade_id in out:
                    continue
                out[trade.trade_id] = {
                    **{name: getattr(score, name) for name in _SCORE_FIELDS},
                    "scored_at": _aware(score.scored_at),
                    "desk_id": trade.payload["desk_id"],
                    "counterparty_id": trade.counterparty_id,
                    "instrument_id": trade.instrument_id,
                    "settlement_market": trade.settlement_market,
                    "settlement_date": trade.settlement_date,
                    "notional": trade.payload["notional"],
                    "payload": trade.payload,
                    "lifecycle": trade.lifecycle,
                    "outcome": trade.outcome,
                    "fail_reason": trade.fail_reason,
                    "status": status,
                }
        return list(out.values())

    def undecided(
        self,
        counterparty_id: Iterable[str] | None = None,
        positions: Iterable[tuple[str, str]] | None = None,
        ssi: Iterable[tuple[str, str]] | None = None,
    ) -> list[TradeRow]:
        """Stored trades with no outcome yet, of these counterparties, (account,
        instrument) positions or (counterparty, settlement market) SSIs."""
        query = sa.select(TradeRow).where(TradeRow.outcome.is_(None))
        if counterparty_id is not None:
            query = query.where(TradeRow.counterparty_id.in_(list(counterparty_id)))
        if positions is not None:
            query = query.where(
                sa.tuple_(TradeRow.account_id, TradeRow.instrument_id).in_(list(positions))
            )
        if ssi is not None:
            query = query.where(
                sa.tuple_(TradeRow.counterparty_id, TradeRow.settlement_market).in_(list(ssi))
            )
        return self._all(query)

    def _insert_scores(self, session: Session, scores: Sequence[ScoreRecord]) -> int:
        if not scores:
            return 0
        rows = [{name: getattr(s, name) for name in _SCORE_FIELDS} for s in scores]
        insert = (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert
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
        with Session(self.engine) as session, session.begin():
            row = session.get(ExceptionRow, trade_id, with_for_update=True)
            if row is None:
                raise InvalidTransition(f"trade_id {trade_id!r}: no exception for this trade")
            current = Status(row.status)
            if status not in TRANSITIONS[current]:
                allowed = ", ".join(TRANSITIONS[current]) or "none (closed)"
                raise InvalidTransition(
                    f"trade_id {trade_id!r}: cannot go from {current} to {status}; "
                    f"allowed: {allowed}"
                )
            row.status, row.updated_at = status.value, now
            if action_taken:
                row.action_taken = action_taken
            session.add(_history(trade_id, now, status, actor, note or action_taken or ""))

    def queue(
        self,
        settlement_date: dt.date | None = None,
        team: str | None = None,
        capacity: int | None = None,
    ) -> list[ExceptionRow]:
        """Open and acknowledged exceptions, largest expected cost (in USD) first."""
        query = sa.select(ExceptionRow).where(ExceptionRow.status.in_([s.value for s in ACTIVE]))
        if settlement_date is not None:
            query = query.where(ExceptionRow.settlement_date == settlement_date)
        if team is not None:
            query = query.where(ExceptionRow.team == team)
        query = query.order_by(ExceptionRow.expected_cost_usd.desc(), ExceptionRow.trade_id)
        if capacity is not None:
            query = query.limit(capacity)
        return self._all(query)

    def get(self, trade_id: str) -> ExceptionRow | None:
        """A trade's exception, whatever its status."""
        with Session(self.engine, expire_on_commit=False) as session:
            return session.get(ExceptionRow, trade_id)

    def trajectory(self, trade_id: str) -> list[ScoreRow]:
        """Every score of a trade, oldest first: its risk through its lifecycle."""
        query = (
            sa.select(ScoreRow)
            .where(ScoreRow.trade_id == trade_id)
            .order_by(ScoreRow.scored_at, ScoreRow.id)
        )
        return self._all(query)

    def history(self, trade_id: str) -> list[HistoryRow]:
        query = (
            sa.select(HistoryRow)
            .where(HistoryRow.trade_id == trade_id)
            .order_by(HistoryRow.at, HistoryRow.id)
        )
        return self._all(query)

    def _all(self, query: sa.Select) -> list:
        with Session(self.engine, expire_on_commit=False) as session:
            return list(session.scalars(query))

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as session:
            return {
                table: session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
                for table, model in (
                    ("scores", ScoreRow),
                    ("exceptions", ExceptionRow),
                    ("history", HistoryRow),
                    ("trades", TradeRow),
                )
            }


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
        status = _CLOSING[update.outcome]
        if row is None or status not in TRANSITIONS[Status(row.status)]:
            continue
        row.status, row.updated_at = status.value, now
        note = update.note or f"trade {update.outcome.lower()} ({update.at:%Y-%m-%d %H:%M} UTC)"
        session.add(_history(update.trade_id, now, status, "failcast", note))
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
        **{name: getattr(score, name) for name in _TRADE_FIELDS + _EXCEPTION_SCORE_FIELDS},
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


def _aware(stamp: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they were stored in UTC."""
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
