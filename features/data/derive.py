"""Observable facts derived from raw tables: one definition for simulator, reports, features."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.calendar import SettlementCalendar

__all__ = ["affirmed_by_cutoff", "first_event_ts", "holiday_in_window", "period_end"]


def holiday_in_window(
    calendar: SettlementCalendar,
    trade_date: np.ndarray,
    settlement_date: np.ndarray,
    settlement_market: np.ndarray,
    counterparty_market: np.ndarray,
) -> np.ndarray:
    """A holiday of the settlement market or the counterparty's home market in (trade date, ISD]."""
    holidays: np.ndarray = calendar.holidays_in_window(
        trade_date, settlement_date, settlement_market
    ) + calendar.holidays_in_window(trade_date, settlement_date, counterparty_market)
    return holidays > 0


def period_end(calendar: SettlementCalendar, trades: pd.DataFrame) -> np.ndarray:
    """The ISD falls among the last business days of a month (quarter ends included)."""
    month_end, _ = calendar.period_end(
        trades["settlement_date"].to_numpy("datetime64[D]"), trades["settlement_market"].to_numpy()
    )
    return month_end


def first_event_ts(events: pd.DataFrame, event_type: str, trade_ids: pd.Series) -> pd.Series:
    """Time of each trade's first event of a type (NaT when it never happened)."""
    first = events.loc[events["event_type"] == event_type].groupby("trade_id")["event_ts"].min()
    return trade_ids.map(first)


def affirmed_by_cutoff(
    calendar: SettlementCalendar, trades: pd.DataFrame, events: pd.DataFrame
) -> np.ndarray:
    """The trade was affirmed at or before its affirmation cutoff."""
    cutoff = calendar.affirmation_cutoff(
        trades["settlement_date"].to_numpy("datetime64[D]"), trades["settlement_market"].to_numpy()
    )
    affirmed = first_event_ts(events, "AFFIRMED", trades["trade_id"])
    stamps = affirmed.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    on_time: np.ndarray = ~np.isnat(stamps) & (stamps <= cutoff)
    return on_time
