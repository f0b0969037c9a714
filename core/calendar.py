"""Vectorised settlement-calendar arithmetic over a ``holidays`` table.

One definition of every date rule the product uses — business days, the affirmation cutoff,
the end of the intended settlement date, holidays in the settlement window, period ends —
shared by the simulator, the contract checks, the calibration summary and the features.
Dates are ``datetime64[D]`` arrays; instants are naive UTC ``datetime64[us]`` arrays.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from core.markets import MARKETS

__all__ = [
    "AFFIRMATION_CUTOFF_MINUTES",
    "PERIOD_END_BUSINESS_DAYS",
    "SettlementCalendar",
]

AFFIRMATION_CUTOFF_MINUTES = 21 * 60
"""Affirmation cutoff: 21:00 local time on the business day before the ISD (for T+1 in the US,
21:00 New York time on trade date)."""

PERIOD_END_BUSINESS_DAYS = 2
"""A settlement date among the last this-many business days of a month is a period end."""

_US = np.timedelta64(1, "us")
_DAY = np.timedelta64(1, "D")


class SettlementCalendar:
    """Business-day calendars of the settlement markets, built from a holidays table."""

    def __init__(self, holidays: pd.DataFrame) -> None:
        self._holidays: dict[str, np.ndarray] = {}
        for code in MARKETS:
            days = holidays.loc[holidays["market"] == code, "date"]
            self._holidays[code] = np.unique(np.asarray(days, dtype="datetime64[D]"))
        self._busday = {c: np.busdaycalendar(holidays=h) for c, h in self._holidays.items()}

    def holidays(self, market: str) -> np.ndarray:
        return self._holidays[market]

    def _per_market(
        self, markets: np.ndarray, out: np.ndarray, fn: Callable[[str, np.ndarray], np.ndarray]
    ) -> np.ndarray:
        # hashed, not sorted: a million market codes as Python strings sort in a second
        codes, found = pd.factorize(np.asarray(markets, dtype=object), use_na_sentinel=False)
        for k, code in enumerate(found):
            idx = np.flatnonzero(codes == k)
            out[idx] = fn(str(code), idx)
        return out

    def add_business_days(
        self, dates: np.ndarray, n: np.ndarray | int, markets: np.ndarray
    ) -> np.ndarray:
        """``dates`` rolled forward to a business day, then moved ``n`` business days."""
        dates = np.asarray(dates, dtype="datetime64[D]")
        n_arr = np.broadcast_to(np.asarray(n, dtype=np.int64), dates.shape)
        out = np.empty(dates.shape, dtype="datetime64[D]")
        return self._per_market(
            markets,
            out,
            lambda c, i: np.busday_offset(
                dates[i], n_arr[i], roll="forward", busdaycal=self._busday[c]
            ),
        )

    def is_business_day(self, dates: np.ndarray, markets: np.ndarray) -> np.ndarray:
        dates = np.asarray(dates, dtype="datetime64[D]")
        out = np.empty(dates.shape, dtype=bool)
        return self._per_market(
            markets, out, lambda c, i: np.is_busday(dates[i], busdaycal=self._busday[c])
        )

    def local_to_utc(
        self, dates: np.ndarray, minutes: np.ndarray, markets: np.ndarray
    ) -> np.ndarray:
        """Local wall-clock time (date + minutes after midnight, may exceed a day) in UTC."""
        dates = np.asarray(dates, dtype="datetime64[D]")
        local = (
            dates.astype("datetime64[us]")
            + (np.asarray(minutes, dtype=np.float64) * 60e6).astype(np.int64) * _US
        )
        out = np.empty(dates.shape, dtype="datetime64[us]")

        def convert(code: str, idx: np.ndarray) -> np.ndarray:
            stamps = pd.DatetimeIndex(local[idx]).tz_localize(
                MARKETS[code].tz,
                ambiguous=np.ones(idx.size, dtype=bool),
                nonexistent="shift_forward",
            )
            return stamps.tz_convert("UTC").tz_localize(None).to_numpy("datetime64[us]")

        return self._per_market(markets, out, convert)

    def end_of_day(self, dates: np.ndarray, markets: np.ndarray) -> np.ndarray:
        """The instant a local date ends (next local midnight), in UTC."""
        dates = np.asarray(dates, dtype="datetime64[D]")
        return self.local_to_utc(dates + _DAY, np.zeros(dates.shape), markets)

    def affirmation_cutoff(self, settlement_dates: np.ndarray, markets: np.ndarray) -> np.ndarray:
        """21:00 local on the business day before the intended settlement date, in UTC."""
        prev = self.add_business_days(
            np.asarray(settlement_dates, dtype="datetime64[D]"), -1, markets
        )
        return self.local_to_utc(prev, np.full(prev.shape, AFFIRMATION_CUTOFF_MINUTES), markets)

    def holidays_in_window(
        self, start: np.ndarray, end: np.ndarray, markets: np.ndarray
    ) -> np.ndarray:
        """Number of the market's weekday holidays in (start, end]."""
        start = np.asarray(start, dtype="datetime64[D]")
        end = np.asarray(end, dtype="datetime64[D]")
        out = np.empty(start.shape, dtype=np.int64)

        def count(code: str, idx: np.ndarray) -> np.ndarray:
            h = self._holidays[code]
            inside: np.ndarray = np.searchsorted(h, end[idx], "right") - np.searchsorted(
                h, start[idx], "right"
            )
            return inside

        return self._per_market(markets, out, count)

    def period_end(self, dates: np.ndarray, markets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(month end, quarter end): the date is among the month's last business days."""
        dates = np.asarray(dates, dtype="datetime64[D]")
        ahead = self.add_business_days(dates, PERIOD_END_BUSINESS_DAYS, markets)
        month = dates.astype("datetime64[M]")
        month_end = ahead.astype("datetime64[M]") != month
        quarter_end = month_end & ((month.astype(np.int64) % 12) % 3 == 2)
        return month_end, quarter_end
