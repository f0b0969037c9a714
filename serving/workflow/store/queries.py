"""What the exception store answers: the queue, a trade's trajectory and history, the book of
a settlement window (for the report), the trades an event touches."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from core.access import SYSTEM_ACTOR
from serving.workflow.store.status import ACTIVE, Status
from serving.workflow.store.tables import (
    SCORE_FIELDS,
    ExceptionRow,
    HistoryRow,
    ScoreRow,
    TradeRow,
    aware,
)

__all__ = [
    "BookRow",
    "book",
    "changed_trades",
    "counts",
    "hidden_risk",
    "history",
    "last_settlement_date",
    "latest_probability",
    "queue",
    "trades",
    "trajectory",
    "undecided",
]

_IN_BATCH = 1_000
"""Ids per ``IN (...)`` list: well inside SQLite's bound on a statement's parameters."""


def trades(session: Session, trade_ids: Iterable[str]) -> list[TradeRow]:
    """The stored trades among ``trade_ids``."""
    return list(session.scalars(sa.select(TradeRow).where(TradeRow.trade_id.in_(list(trade_ids)))))


BookRow = tuple[str, dt.datetime, dict[str, Any], dict[str, Any], str | None, dt.datetime | None]
"""A trade as the intraday book holds it: id, when it last changed, contract fields,
lifecycle, outcome and when the outcome became known."""


def changed_trades(
    session: Session,
    settling_from: dt.date,
    changed_since: dt.datetime | None,
    held: Mapping[str, dt.datetime],
) -> list[BookRow]:
    """The trades settling on or after ``settling_from``, only those changed since
    ``changed_since`` when given, less those ``held`` as of their last change: which ones is
    asked first (ids and instants only), their fields then for the few that are new, so a
    read that finds nothing new decodes no JSON."""
    if changed_since is None:
        query = sa.select(*_BOOK).where(TradeRow.settlement_date >= settling_from)
        return [_book_row(row) for row in session.execute(query)]
    stamps = session.execute(
        sa.select(TradeRow.trade_id, TradeRow.updated_at).where(
            TradeRow.settlement_date >= settling_from, TradeRow.updated_at >= changed_since
        )
    )
    new = [trade_id for trade_id, at in stamps if held.get(trade_id) != at]
    rows: list[BookRow] = []
    for start in range(0, len(new), _IN_BATCH):
        query = sa.select(*_BOOK).where(TradeRow.trade_id.in_(new[start : start + _IN_BATCH]))
        rows += [_book_row(row) for row in session.execute(query)]
    return rows


_BOOK = (
    TradeRow.trade_id,
    TradeRow.updated_at,
    TradeRow.payload,
    TradeRow.lifecycle,
    TradeRow.outcome,
    TradeRow.outcome_at,
)


def _book_row(row: sa.Row[Any]) -> BookRow:
    trade_id, updated_at, payload, lifecycle, outcome, outcome_at = tuple(row)
    return trade_id, updated_at, payload, lifecycle, outcome, outcome_at and aware(outcome_at)


def latest_probability(session: Session, trade_ids: Iterable[str]) -> dict[str, float]:
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
    return {trade_id: p for trade_id, p in session.execute(query)}


def last_settlement_date(session: Session) -> dt.date | None:
    """The latest settlement date of a stored trade (None: no trade stored)."""
    return session.scalar(sa.select(sa.func.max(TradeRow.settlement_date)))


def book(session: Session, first: dt.date, last: dt.date) -> list[dict[str, Any]]:
    """Every stored trade settling from ``first`` to ``last``: its fields, its latest score,
    its outcome and its exception's status (None if it never had one)."""
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
    out: dict[str, dict[str, Any]] = {}
    for trade, score, status in session.execute(query):
        if trade.trade_id in out:
            continue
        out[trade.trade_id] = {
            **{name: getattr(score, name) for name in SCORE_FIELDS},
            "scored_at": aware(score.scored_at),
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
    session: Session,
    counterparty_id: Iterable[str] | None = None,
    positions: Iterable[tuple[str, str]] | None = None,
    ssi: Iterable[tuple[str, str]] | None = None,
    account_id: Iterable[str] | None = None,
    instrument_id: Iterable[str] | None = None,
) -> list[TradeRow]:
    """Stored trades with no outcome yet, of these counterparties, (account, instrument)
    positions, (counterparty, settlement market) SSIs, accounts or instruments."""
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
    if account_id is not None:
        query = query.where(TradeRow.account_id.in_(list(account_id)))
    if instrument_id is not None:
        query = query.where(TradeRow.instrument_id.in_(list(instrument_id)))
    return list(session.scalars(query))


def queue(
    session: Session,
    settlement_date: dt.date | None = None,
    team: str | None = None,
    capacity: int | None = None,
) -> list[ExceptionRow]:
    """Exceptions in the queue (open, acknowledged, overdue): overdue first, then the largest
    expected cost (in USD)."""
    query = sa.select(ExceptionRow).where(ExceptionRow.status.in_([s.value for s in ACTIVE]))
    if settlement_date is not None:
        query = query.where(ExceptionRow.settlement_date == settlement_date)
    if team is not None:
        query = query.where(ExceptionRow.team == team)
    overdue_first = sa.case((ExceptionRow.status == Status.OVERDUE.value, 0), else_=1)
    query = query.order_by(
        overdue_first, ExceptionRow.expected_cost_usd.desc(), ExceptionRow.trade_id
    )
    if capacity is not None:
        query = query.limit(capacity)
    return list(session.scalars(query))


def trajectory(session: Session, trade_id: str) -> list[ScoreRow]:
    """Every score of a trade, oldest first: its risk through its lifecycle."""
    order = (ScoreRow.scored_at, ScoreRow.id)  # the id breaks ties in the order stored
    return list(session.scalars(sa.select(ScoreRow).filter_by(trade_id=trade_id).order_by(*order)))


def history(session: Session, trade_id: str) -> list[HistoryRow]:
    """Every status change of a trade's exception, oldest first."""
    order = (HistoryRow.at, HistoryRow.id)
    return list(
        session.scalars(sa.select(HistoryRow).filter_by(trade_id=trade_id).order_by(*order))
    )


def people_actions(session: Session, first: dt.date, last: dt.date) -> list[HistoryRow]:
    """The status changes people (not failcast itself) made to exceptions of trades settling
    from ``first`` to ``last``, oldest first."""
    query = (
        sa.select(HistoryRow)
        .join(TradeRow, TradeRow.trade_id == HistoryRow.trade_id)
        .where(TradeRow.settlement_date.between(first, last), HistoryRow.actor != SYSTEM_ACTOR)
        .order_by(HistoryRow.at, HistoryRow.id)
    )
    return list(session.scalars(query))


def hidden_risk(session: Session) -> list[str]:
    """Trades at risk that the queue does not show: the latest score MEDIUM or HIGH, no
    outcome yet, and no exception in the queue, unless a person resolved it (their decision
    is in its history). The workflow keeps this list empty."""
    other = aliased(ScoreRow)
    newest = (
        sa.select(sa.func.max(other.scored_at))
        .where(other.trade_id == TradeRow.trade_id)
        .scalar_subquery()
    )
    query = (
        sa.select(TradeRow.trade_id)
        .join(ScoreRow, ScoreRow.trade_id == TradeRow.trade_id)
        .outerjoin(ExceptionRow, ExceptionRow.trade_id == TradeRow.trade_id)
        .where(
            TradeRow.outcome.is_(None),
            ScoreRow.scored_at == newest,
            ScoreRow.risk_tier != "LOW",
            sa.or_(
                ExceptionRow.status.is_(None),
                sa.and_(
                    ExceptionRow.status.not_in([s.value for s in ACTIVE]),
                    sa.or_(
                        ExceptionRow.status != Status.RESOLVED.value,
                        ExceptionRow.resolved_by == SYSTEM_ACTOR,
                        ExceptionRow.resolved_by.is_(None),
                    ),
                ),
            ),
        )
        .distinct()
        .order_by(TradeRow.trade_id)
    )
    return list(session.scalars(query))


def counts(session: Session) -> dict[str, int]:
    """Rows per table."""
    return {
        table: session.scalar(sa.select(sa.func.count()).select_from(model)) or 0
        for table, model in (
            ("scores", ScoreRow),
            ("exceptions", ExceptionRow),
            ("history", HistoryRow),
            ("trades", TradeRow),
        )
    }
