"""How exceptions follow the risk, inside a store transaction: opened when a trade is at risk,
given every newer score, resolved by failcast when the risk falls, reopened when it rises
again (``status.reopens``), closed when the outcome arrives, OVERDUE past the settlement
deadline with no outcome. Every change is a history line saying why."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.orm import Session

from core.access import SYSTEM_ACTOR
from core.actions import NO_REASON
from core.calendar import SettlementCalendar
from serving.workflow.store.records import TRADE_FIELDS, ScoreRecord, TradeUpdate
from serving.workflow.store.status import CLOSING, TRANSITIONS, Status, reopens
from serving.workflow.store.tables import (
    EXCEPTION_SCORE_FIELDS,
    ExceptionRow,
    HistoryRow,
    ScoreRow,
    TradeRow,
    aware,
)

__all__ = [
    "Changes",
    "close_decided",
    "follow",
    "history",
    "latest_per_trade",
    "mark_overdue",
    "outcome_due",
]

_NO_REASON = {"action": NO_REASON.text, "team": NO_REASON.team.value}
_ANY_CALENDAR = SettlementCalendar(pd.DataFrame({"market": [], "date": []}))
"""Local midnights need time zones, not holidays."""


@dataclass
class Changes:
    """What happened to exceptions in one transaction."""

    opened: int = 0
    updated: int = 0
    closed: int = 0
    reopened: int = 0
    overdue: int = 0
    touched: set[str] = field(default_factory=set)


def close_decided(
    session: Session,
    found: Mapping[str, ExceptionRow],
    updates: Sequence[TradeUpdate],
    now: dt.datetime,
    changes: Changes,
) -> set[str]:
    """Close the exceptions of trades whose outcome arrived; the decided trades."""
    decided = set()
    for update in updates:
        if update.outcome is None:
            continue
        decided.add(update.trade_id)
        row = found.get(update.trade_id)
        status = CLOSING[update.outcome]
        if row is None or status not in TRANSITIONS[Status(row.status)]:
            continue
        row.status, row.updated_at = status.value, now
        if status is Status.RESOLVED:
            row.resolved_by, row.resolved_tier = SYSTEM_ACTOR, row.risk_tier
        note = update.note or f"trade {update.outcome.lower()} ({update.at:%Y-%m-%d %H:%M} UTC)"
        session.add(history(update.trade_id, now, status, SYSTEM_ACTOR, note))
        changes.closed += 1
    return decided


def follow(
    session: Session,
    found: Mapping[str, ExceptionRow],
    latest: Mapping[str, ScoreRecord],
    undecided: set[str],
    now: dt.datetime,
    changes: Changes,
) -> None:
    """Apply each trade's newest score to its exception; ``undecided``: the trades with no
    outcome yet (only those open or reopen)."""
    for trade_id, score in latest.items():
        row = found.get(trade_id)
        if row is None:
            if score.at_risk and trade_id in undecided:
                session.add(_new_exception(score, now))
                session.add(history(trade_id, now, Status.OPEN, SYSTEM_ACTOR, _opened(score)))
                changes.opened += 1
            continue
        status = Status(row.status)
        if status in (Status.SETTLED, Status.FAILED) or aware(row.scored_at) > score.scored_at:
            continue  # a closed exception, or an older score than the one it shows
        for name in EXCEPTION_SCORE_FIELDS:
            setattr(row, name, getattr(score, name))
        row.updated_at = now
        changes.updated += 1
        if status in (Status.OPEN, Status.ACKNOWLEDGED) and not score.at_risk:
            row.status = Status.RESOLVED.value
            row.resolved_by, row.resolved_tier = SYSTEM_ACTOR, score.risk_tier
            session.add(history(trade_id, now, Status.RESOLVED, SYSTEM_ACTOR, _safe(score)))
            changes.closed += 1
        elif status is Status.RESOLVED and trade_id in undecided:
            by_system = row.resolved_by == SYSTEM_ACTOR
            if reopens(by_system, row.resolved_tier, score.risk_tier):
                note = _reopened(score, row.resolved_by, row.resolved_tier)
                _assign(row, score)
                row.status, row.resolved_by, row.resolved_tier = Status.OPEN.value, None, None
                session.add(history(trade_id, now, Status.OPEN, SYSTEM_ACTOR, note))
                changes.reopened += 1


def outcome_due(dates: Sequence[dt.date], markets: Sequence[str]) -> list[dt.datetime]:
    """When each trade's outcome becomes known, from its ISD and settlement market: the end
    of the ISD in that market (its deadline is that plus the store's grace)."""
    if not dates:
        return []
    ends = _ANY_CALENDAR.end_of_day(
        np.array(dates, dtype="datetime64[D]"), np.array(markets, dtype=object)
    )
    return [
        dt.datetime.fromtimestamp(int(us) / 1e6, dt.UTC)
        for us in ends.astype("datetime64[us]").astype(np.int64)
    ]


_GO_OVERDUE = (Status.OPEN, Status.ACKNOWLEDGED, Status.RESOLVED)
"""Statuses an exception leaves for OVERDUE when its trade's deadline passes."""


def mark_overdue(session: Session, now: dt.datetime, grace: dt.timedelta, changes: Changes) -> None:
    """Every stored trade past its settlement deadline with no outcome has an OVERDUE
    exception: an existing one moves there, a trade that had none gets one.

    Runs in every write, so it reads only what changes: by index, the trades with no outcome
    past their deadline whose exception (if any) can still go OVERDUE — none, most of the
    time, however many trades settle today."""
    due = session.scalars(
        sa.select(TradeRow)
        .outerjoin(ExceptionRow, ExceptionRow.trade_id == TradeRow.trade_id)
        .where(
            TradeRow.outcome.is_(None),
            TradeRow.outcome_due <= now - grace,
            sa.or_(
                ExceptionRow.trade_id.is_(None),
                ExceptionRow.status.in_([s.value for s in _GO_OVERDUE]),
            ),
        )
        .order_by(TradeRow.trade_id)
    ).all()
    if not due:
        return
    found = {
        row.trade_id: row
        for row in session.scalars(
            sa.select(ExceptionRow).where(ExceptionRow.trade_id.in_([t.trade_id for t in due]))
        )
    }
    for trade in due:
        row = found.get(trade.trade_id)
        note = f"no outcome by its settlement deadline ({trade.settlement_date} end of day + grace)"
        if row is None:
            score = _latest_score(session, trade.trade_id)
            if score is None:
                continue  # kept without a score: nothing to show
            session.add(_overdue_exception(score, trade, now))
        else:
            row.status, row.updated_at = Status.OVERDUE.value, now
        session.add(history(trade.trade_id, now, Status.OVERDUE, SYSTEM_ACTOR, note))
        changes.overdue += 1


def latest_per_trade(scores: Iterable[ScoreRecord]) -> dict[str, ScoreRecord]:
    latest: dict[str, ScoreRecord] = {}
    for score in scores:
        if score.trade_id not in latest or latest[score.trade_id].scored_at <= score.scored_at:
            latest[score.trade_id] = score
    return latest


def history(trade_id: str, at: dt.datetime, status: Status, actor: str, note: str) -> HistoryRow:
    return HistoryRow(trade_id=trade_id, at=at, status=status.value, actor=actor, note=note)


def _assign(row: ExceptionRow, score: ScoreRecord) -> None:
    """The owning team and action follow the score's strongest reason."""
    top = score.reasons[0] if score.reasons else _NO_REASON
    row.team, row.action = top["team"], top["action"]


def _new_exception(score: ScoreRecord, now: dt.datetime) -> ExceptionRow:
    row = ExceptionRow(
        trade_id=score.trade_id,
        status=Status.OPEN.value,
        action_taken=None,
        opened_at=now,
        updated_at=now,
        **{name: getattr(score, name) for name in TRADE_FIELDS + EXCEPTION_SCORE_FIELDS},
    )
    _assign(row, score)
    return row


def _latest_score(session: Session, trade_id: str) -> ScoreRow | None:
    query = (
        sa.select(ScoreRow)
        .where(ScoreRow.trade_id == trade_id)
        .order_by(ScoreRow.scored_at.desc(), ScoreRow.id.desc())
        .limit(1)
    )
    return session.scalars(query).first()


def _overdue_exception(score: ScoreRow, trade: TradeRow, now: dt.datetime) -> ExceptionRow:
    top = score.reasons[0] if score.reasons else _NO_REASON
    return ExceptionRow(
        trade_id=trade.trade_id,
        status=Status.OVERDUE.value,
        team=top["team"],
        action=top["action"],
        action_taken=None,
        opened_at=now,
        updated_at=now,
        settlement_date=trade.settlement_date,
        counterparty_id=trade.counterparty_id,
        instrument_id=trade.instrument_id,
        desk_id=trade.payload["desk_id"],
        settlement_market=trade.settlement_market,
        notional=trade.payload["notional"],
        **{name: getattr(score, name) for name in EXCEPTION_SCORE_FIELDS},
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


def _reopened(score: ScoreRecord, by: str | None, tier: str | None) -> str:
    who = "failcast" if by == SYSTEM_ACTOR else (by or "someone")
    return (
        f"reopened at {score.stage}: {score.risk_tier} risk, P(fail) "
        f"{score.fail_probability:.1%} (resolved by {who} at {tier or 'an unknown'} risk)"
    )
