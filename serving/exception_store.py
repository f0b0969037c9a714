"""The exception store: every score, and one exception per at-risk trade with its status,
owning team, action taken and history (SQLAlchemy; a SQLite file under the project home by
default, PostgreSQL by URL).

Writes are transactional and idempotent: a batch of scores lands whole or not at all, and a
score already stored (same trade, instant and model version) is never stored twice, so a run
killed midway is simply run again.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from features.settings import Settings

__all__ = [
    "EXCEPTION_FIELDS",
    "ExceptionStore",
    "InvalidTransition",
    "Recorded",
    "ScoreRecord",
    "Status",
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


class InvalidTransition(ValueError):
    """A status change the workflow does not allow, or for an unknown trade."""


class _Base(DeclarativeBase):
    pass


class ScoreRow(_Base):
    __tablename__ = "scores"
    __table_args__ = (sa.UniqueConstraint("trade_id", "scored_at", "model_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trade_id: Mapped[str] = mapped_column(sa.String(64), index=True)
    scored_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    model_version: Mapped[str] = mapped_column(sa.String(32))
    stage: Mapped[str] = mapped_column(sa.String(16))
    fail_probability: Mapped[float]
    risk_tier: Mapped[str] = mapped_column(sa.String(8))
    predicted_cause: Mapped[str] = mapped_column(sa.String(32))
    expected_cost: Mapped[float]
    currency: Mapped[str] = mapped_column(sa.String(3))
    reasons: Mapped[list] = mapped_column(sa.JSON)


class ExceptionRow(_Base):
    __tablename__ = "exceptions"

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
    # the latest score
    scored_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    stage: Mapped[str] = mapped_column(sa.String(16))
    model_version: Mapped[str] = mapped_column(sa.String(32))
    fail_probability: Mapped[float]
    risk_tier: Mapped[str] = mapped_column(sa.String(8))
    predicted_cause: Mapped[str] = mapped_column(sa.String(32))
    expected_cost: Mapped[float] = mapped_column(index=True)
    currency: Mapped[str] = mapped_column(sa.String(3))
    reasons: Mapped[list] = mapped_column(sa.JSON)


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

    @property
    def at_risk(self) -> bool:
        return self.risk_tier != "LOW"

    @classmethod
    def of(cls, score: Mapping, trade: Mapping) -> ScoreRecord:
        """From a ``/score`` result and the trade it scored (contract fields)."""
        stamp = score["scored_at"]
        return cls(
            **{name: score[name] for name in _EXCEPTION_SCORE_FIELDS if name != "scored_at"},
            scored_at=stamp
            if isinstance(stamp, dt.datetime)
            else dt.datetime.fromisoformat(stamp.replace("Z", "+00:00")),
            trade_id=score["trade_id"],
            **{name: trade[name] for name in _TRADE_FIELDS},
        )


_SCORE_FIELDS = [c.name for c in ScoreRow.__table__.columns if c.name != "id"]
_EXCEPTION_SCORE_FIELDS = [
    "scored_at",
    "stage",
    "model_version",
    "fail_probability",
    "risk_tier",
    "predicted_cause",
    "expected_cost",
    "currency",
    "reasons",
]
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


_NO_REASON = {"action": "Review the trade's settlement set-up", "team": "Settlements"}


@dataclass(frozen=True)
class Recorded:
    scores: int  # new score rows (a score stored before is not counted again)
    opened: int  # exceptions opened
    updated: int  # open exceptions given a newer score


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

    def record(self, scores: Sequence[ScoreRecord], now: dt.datetime | None = None) -> Recorded:
        """Store a batch of scores and open or refresh the exceptions of at-risk trades, in
        one transaction."""
        now = now or dt.datetime.now(dt.UTC)
        with Session(self.engine) as session, session.begin():
            new = self._insert_scores(session, scores)
            opened = updated = 0
            latest = _latest_per_trade(s for s in scores if s.at_risk)
            found = {
                row.trade_id: row
                for row in session.scalars(
                    sa.select(ExceptionRow).where(ExceptionRow.trade_id.in_(list(latest)))
                )
            }
            for trade_id, score in latest.items():
                row = found.get(trade_id)
                if row is None:
                    session.add(_new_exception(score, now))
                    session.add(_history(trade_id, now, Status.OPEN, "failcast", _opened(score)))
                    opened += 1
                elif row.status in ACTIVE and _aware(row.scored_at) <= score.scored_at:
                    for name in _EXCEPTION_SCORE_FIELDS:
                        setattr(row, name, getattr(score, name))
                    row.updated_at = now
                    updated += 1
        return Recorded(new, opened, updated)

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
        """Open and acknowledged exceptions, largest expected cost first."""
        query = sa.select(ExceptionRow).where(ExceptionRow.status.in_([s.value for s in ACTIVE]))
        if settlement_date is not None:
            query = query.where(ExceptionRow.settlement_date == settlement_date)
        if team is not None:
            query = query.where(ExceptionRow.team == team)
        query = query.order_by(ExceptionRow.expected_cost.desc(), ExceptionRow.trade_id)
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
                )
            }


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


def _history(trade_id: str, at: dt.datetime, status: Status, actor: str, note: str) -> HistoryRow:
    return HistoryRow(trade_id=trade_id, at=at, status=status.value, actor=actor, note=note)


def _aware(stamp: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they were stored in UTC."""
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
