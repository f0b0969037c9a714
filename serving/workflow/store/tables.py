"""The exception store's tables (SQLAlchemy ORM). Their schema changes only through a
migration (``serving/workflow/store/migrations``)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from core.limits import MAX_ID_LENGTH

__all__ = [
    "EXCEPTION_FIELDS",
    "EXCEPTION_SCORE_FIELDS",
    "SCORE_FIELDS",
    "AuditRow",
    "Base",
    "ClockRow",
    "DeadLetterRow",
    "ExceptionRow",
    "HistoryRow",
    "InboxRow",
    "OutboxRow",
    "ScoreRow",
    "TradeRow",
    "UserRow",
    "aware",
]


class Base(DeclarativeBase):
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
    # the expected cost by part (trade currency): the market's penalty, funding, buy-in
    expected_penalty: Mapped[float] = mapped_column(server_default="0")
    expected_funding: Mapped[float] = mapped_column(server_default="0")
    expected_buy_in: Mapped[float] = mapped_column(server_default="0")
    reasons: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)


class ScoreRow(_Score, Base):
    __tablename__ = "scores"
    __table_args__ = (sa.UniqueConstraint("trade_id", "scored_at", "model_version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    trade_id: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH), index=True)


class ExceptionRow(_Score, Base):
    __tablename__ = "exceptions"
    __table_args__ = (sa.Index("ix_exceptions_expected_cost_usd", "expected_cost_usd"),)

    trade_id: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH), primary_key=True)
    status: Mapped[str] = mapped_column(sa.String(16), index=True)
    team: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH), index=True)
    action: Mapped[str] = mapped_column(sa.Text)
    action_taken: Mapped[str | None] = mapped_column(sa.Text)
    opened_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    settlement_date: Mapped[dt.date] = mapped_column(sa.Date, index=True)
    counterparty_id: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH))
    instrument_id: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH))
    desk_id: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH))
    settlement_market: Mapped[str] = mapped_column(sa.String(8))
    notional: Mapped[float]
    # who resolved it last and at what tier: a RESOLVED exception reopens when the risk rises
    resolved_by: Mapped[str | None] = mapped_column(sa.String(MAX_ID_LENGTH))
    resolved_tier: Mapped[str | None] = mapped_column(sa.String(8))


class TradeRow(Base):
    """A scored trade, kept so that an event can have it scored again."""

    __tablename__ = "trades"
    __table_args__ = (
        sa.Index("ix_trades_open_account", "outcome", "account_id", "instrument_id"),
        sa.Index("ix_trades_open_due", "outcome", "outcome_due"),
    )

    trade_id: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH), primary_key=True)
    counterparty_id: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH), index=True)
    account_id: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH))
    instrument_id: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH))
    settlement_market: Mapped[str] = mapped_column(sa.String(8))
    settlement_date: Mapped[dt.date] = mapped_column(sa.Date, index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)  # the contract's fields
    lifecycle: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    outcome: Mapped[str | None] = mapped_column(sa.String(16))  # SETTLED, FAILED, CANCELLED
    fail_reason: Mapped[str | None] = mapped_column(sa.String(32))
    # when the outcome became known (the feed's known_ts, a cancellation's instant)
    outcome_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    updated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    # the end of the ISD in the settlement market, when an outcome becomes known: the
    # trades past it with no outcome are found by index, not by reading every open trade
    outcome_due: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


class ClockRow(Base):
    """The latest instant among the scores and events stored: the store's own "now" when
    deadlines follow the events (a replay of the past) rather than the wall clock."""

    __tablename__ = "store_clock"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))


class DeadLetterRow(Base):
    """A record that could not be stored, kept with the error, for a person to look at: the
    rest of its batch was stored without it."""

    __tablename__ = "dead_letters"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(sa.String(255), unique=True)  # where it came from
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    kind: Mapped[str] = mapped_column(sa.String(16))  # what was being stored: "score", ...
    key: Mapped[str | None] = mapped_column(sa.String(MAX_ID_LENGTH))  # its trade, if known
    payload: Mapped[dict[str, Any]] = mapped_column(sa.JSON)
    error: Mapped[str] = mapped_column(sa.Text)


class InboxRow(Base):
    """An event received: a re-sent one (same id) changes nothing. ``digest`` is of its
    content, so that an id sent again with other content is refused."""

    __tablename__ = "inbox"

    event_id: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH), primary_key=True)
    digest: Mapped[str] = mapped_column(sa.String(64))
    kind: Mapped[str] = mapped_column(sa.String(16))
    received_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    entry_id: Mapped[int] = mapped_column(sa.ForeignKey("outbox.id"), index=True)


class OutboxRow(Base):
    """What a batch of events still has to do outside the store's transaction: push its
    features online and score the trades it touched. Written in the transaction that takes
    the events in; done once its scores are stored (in the same transaction as ``done_at``).
    """

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_pending", "done_at", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    events: Mapped[list[dict[str, Any]]] = mapped_column(sa.JSON)  # the new events, as sent
    rescore: Mapped[dict[str, str]] = mapped_column(sa.JSON)  # trade -> as of (lifecycle)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    attempts: Mapped[int] = mapped_column(default=0)
    last_error: Mapped[str | None] = mapped_column(sa.Text)
    done_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))


class HistoryRow(Base):
    __tablename__ = "exception_history"

    id: Mapped[int] = mapped_column(primary_key=True)
    trade_id: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH), index=True)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    status: Mapped[str] = mapped_column(sa.String(16))
    actor: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH))
    note: Mapped[str] = mapped_column(sa.Text)


class UserRow(Base):
    """A person or system with an API key. Only the key's SHA-256 is kept (the key is a
    random 256-bit secret, shown once); a revoked user keeps their row, for the audit."""

    __tablename__ = "users"

    name: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH), primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(16))
    teams: Mapped[list[str]] = mapped_column(sa.JSON)
    key_id: Mapped[str] = mapped_column(sa.String(16), unique=True)
    key_sha256: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    revoked_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))


class AuditRow(Base):
    """One request or user change: who, as what, when, where and with which outcome.
    Append-only: failcast never updates or deletes a row (PostgreSQL refuses it by trigger)."""

    __tablename__ = "audit"
    __table_args__ = (sa.Index("ix_audit_subject_at", "subject", "at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), index=True)
    subject: Mapped[str] = mapped_column(sa.String(MAX_ID_LENGTH))
    role: Mapped[str] = mapped_column(sa.String(64))
    action: Mapped[str] = mapped_column(sa.String(16))  # the HTTP method, or "cli"
    route: Mapped[str] = mapped_column(sa.String(255))
    outcome: Mapped[int]  # the HTTP status (the CLI's: 0)
    detail: Mapped[str] = mapped_column(sa.Text)


SCORE_FIELDS = [c.name for c in ScoreRow.__table__.columns if c.name != "id"]
"""Every column of a stored score."""
EXCEPTION_SCORE_FIELDS = list(_Score.__annotations__)
"""What an exception shows of its latest score."""
EXCEPTION_FIELDS = [
    c.name
    for c in ExceptionRow.__table__.columns
    if c.name not in ("updated_at", "resolved_by", "resolved_tier")
]
"""What a queue entry shows: every column of an exception."""


def aware(stamp: dt.datetime) -> dt.datetime:
    """SQLite hands timestamps back naive; they were stored in UTC."""
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=dt.UTC)
