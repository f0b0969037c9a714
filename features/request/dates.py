"""Calendar facts of a trade that depend only on its dates and markets, remembered per
distinct combination, and the local time of day of an execution."""

from __future__ import annotations

import datetime as dt
import functools
from zoneinfo import ZoneInfo

import numpy as np

from core.calendar import SettlementCalendar
from core.markets import MARKETS
from core.stages import STAGES, stage_starts
from features.compute.reference import category_code
from features.data.derive import holiday_in_window

__all__ = ["DATE_FACTS", "DateFacts", "local_days"]

_WINDOW_SPAN = 1 << 16
"""Settlement windows (days) the memo key has room for; the contract allows far fewer."""
_HOUR_US = 3_600_000_000
_FEW = 16
"""Instants few enough to shift one by one."""
_DAY_US = 86_400_000_000
DATE_FACTS = (
    "req_cutoff_s",
    "req_isd_start_s",
    "req_holiday_in_window",
    "req_period_end",
    "req_quarter_end",
    *(f"start_{stage}" for stage in STAGES[1:]),
)
"""What ``DateFacts`` gives per trade: request fields and when its later stages start."""


def local_days(instants_us: np.ndarray, market: np.ndarray) -> np.ndarray:
    """The local date (datetime64[D]) of each instant in its market."""
    return ((_local_us(instants_us, market)) // _DAY_US).astype("datetime64[D]")


def _local_us(instants_us: np.ndarray, market: np.ndarray) -> np.ndarray:
    """Each instant shifted by its market's UTC offset at that instant."""
    instants_us = np.asarray(instants_us, dtype=np.int64)
    if instants_us.size <= _FEW:  # a request's trades: no sorting, one memo lookup each
        hours_of = (instants_us // _HOUR_US).tolist()
        shifted = [
            _utc_offset_us(str(m), h)
            for m, h in zip(np.asarray(market).tolist(), hours_of, strict=True)
        ]
        return instants_us + np.array(shifted, dtype=np.int64)
    hours = instants_us // _HOUR_US
    offsets = np.empty(instants_us.size, dtype=np.int64)
    market = np.asarray(market, dtype=object)
    for code in dict.fromkeys(market.tolist()):  # the markets present, without a sort
        idx = np.flatnonzero(market == code)
        unique, inverse = np.unique(hours[idx], return_inverse=True)
        offset = np.array([_utc_offset_us(str(code), int(h)) for h in unique], dtype=np.int64)
        offsets[idx] = offset[inverse]
    return instants_us + offsets


@functools.lru_cache(maxsize=65_536)
def _utc_offset_us(market: str, hour: int) -> int:
    at = dt.datetime.fromtimestamp(hour * 3600, tz=ZoneInfo(MARKETS[market].tz))
    return int(at.utcoffset().total_seconds()) * 1_000_000  # type: ignore[union-attr]


class DateFacts:
    """Calendar facts of a trade that depend only on its dates and markets — the cutoff,
    holiday in window, month and quarter end, when its later stages start — computed once
    per distinct (trade date, ISD, settlement market, counterparty market) and remembered:
    the same few combinations recur all day, so one-trade requests skip the arithmetic."""

    def __init__(self, calendar: SettlementCalendar, capacity: int = 100_000) -> None:
        self.calendar, self.capacity = calendar, capacity
        self._memo: dict[int, dict[str, object]] = {}

    def __call__(
        self,
        trade_date: np.ndarray,
        settlement_date: np.ndarray,
        market: np.ndarray,
        counterparty_market: np.ndarray,
    ) -> dict[str, np.ndarray]:
        trade_day = np.asarray(trade_date, dtype="datetime64[D]").astype(np.int64)
        isd_day = np.asarray(settlement_date, dtype="datetime64[D]").astype(np.int64)
        codes = list(MARKETS)
        window = isd_day - trade_day
        if window.size and not (window.min() >= 0 and window.max() < _WINDOW_SPAN):
            raise ValueError(
                f"settlement windows of {window.min()} to {window.max()} days: the calendar "
                f"memo keys windows of 0 to {_WINDOW_SPAN - 1} days"
            )
        # one int64 per distinct (trade date, window, settlement market, home market): every
        # part within its bits, so no two combinations share a key
        key = (
            (trade_day * _WINDOW_SPAN + window) * 64
            + (category_code(market, codes) + 1) * 8
            + (category_code(counterparty_market, codes) + 1)
        )
        unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        missing = [i for i, k in enumerate(unique.tolist()) if k not in self._memo]
        if missing:
            rows = first[missing]
            computed = self._compute(
                trade_day[rows].astype("datetime64[D]"),
                isd_day[rows].astype("datetime64[D]"),
                np.asarray(market, dtype=object)[rows],
                np.asarray(counterparty_market, dtype=object)[rows],
            )
            if len(self._memo) + len(missing) > self.capacity:
                self._memo.clear()
            for j, i in enumerate(missing):
                self._memo[int(unique[i])] = {name: v[j] for name, v in computed.items()}
        facts = [self._memo[k] for k in unique.tolist()]
        return {name: np.array([f[name] for f in facts])[inverse] for name in DATE_FACTS}

    def _compute(
        self, trade_date: np.ndarray, isd: np.ndarray, market: np.ndarray, home: np.ndarray
    ) -> dict[str, np.ndarray]:
        calendar = self.calendar
        month_end, quarter_end = calendar.period_end(isd, market)
        starts = stage_starts(isd, market, calendar)
        return {
            "req_cutoff_s": calendar.affirmation_cutoff(isd, market).astype(np.int64) / 1e6,
            "req_isd_start_s": calendar.local_to_utc(isd, np.zeros(isd.shape), market).astype(
                np.int64
            )
            / 1e6,
            "req_holiday_in_window": holiday_in_window(
                calendar, trade_date, isd, market, home
            ).astype(np.int64),
            "req_period_end": month_end.astype(np.int64),
            "req_quarter_end": quarter_end.astype(np.int64),
            **{f"start_{stage}": at for stage, at in starts.items()},
        }
