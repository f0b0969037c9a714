"""Market calendars: holidays, business days, cutoffs and period ends."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from core.calendar import SettlementCalendar
from core.markets import _easter, market_holidays
from features.data.simulator import holidays_table
from features.data.simulator.world import isin_from_nsin


@pytest.fixture(scope="module")
def calendar() -> SettlementCalendar:
    return SettlementCalendar(holidays_table(2023, 2025))


@pytest.mark.parametrize(
    ("market", "day", "name"),
    [
        ("US", dt.date(2024, 11, 28), "Thanksgiving Day"),
        ("US", dt.date(2024, 6, 19), "Juneteenth"),
        ("US", dt.date(2022, 12, 26), "Christmas Day"),  # observed on Monday
        ("GB", dt.date(2024, 4, 1), "Easter Monday"),
        ("GB", dt.date(2021, 12, 28), "Boxing Day"),
        ("DE", dt.date(2024, 5, 1), "Labour Day"),
        ("JP", dt.date(2024, 1, 2), "New Year Holiday"),
    ],
)
def test_known_holidays_are_generated(market: str, day: dt.date, name: str) -> None:
    assert (market, day, name) in market_holidays([day.year])


def test_easter_dates() -> None:
    assert [_easter(y) for y in (2023, 2024, 2025)] == [
        dt.date(2023, 4, 9),
        dt.date(2024, 3, 31),
        dt.date(2025, 4, 20),
    ]


def test_settlement_skips_weekends_and_holidays(calendar: SettlementCalendar) -> None:
    trade = np.array(["2024-11-27", "2024-11-27", "2024-12-24"], dtype="datetime64[D]")
    isd = calendar.add_business_days(trade, np.array([1, 2, 2]), np.array(["US", "GB", "GB"]))
    # US: Thanksgiving skipped; GB: Christmas and Boxing Day skipped.
    assert list(isd.astype(str)) == ["2024-11-29", "2024-11-29", "2024-12-30"]


def test_affirmation_cutoff_is_2100_new_york_on_trade_date_for_t1(
    calendar: SettlementCalendar,
) -> None:
    isd = np.array(["2024-07-02"], dtype="datetime64[D]")
    cutoff = calendar.affirmation_cutoff(isd, np.array(["US"]))
    assert str(cutoff[0]) == "2024-07-02T01:00:00.000000"  # 21:00 EDT on 2024-07-01


def test_end_of_day_is_local_midnight(calendar: SettlementCalendar) -> None:
    eod = calendar.end_of_day(
        np.array(["2024-01-15", "2024-01-15"], dtype="datetime64[D]"), np.array(["JP", "US"])
    )
    assert [str(x) for x in eod] == ["2024-01-15T15:00:00.000000", "2024-01-16T05:00:00.000000"]


def test_period_end_marks_last_two_business_days(calendar: SettlementCalendar) -> None:
    days = pd.bdate_range("2024-03-25", "2024-04-03").to_numpy("datetime64[D]")
    days = days[calendar.is_business_day(days, np.full(days.size, "US"))]
    month_end, quarter_end = calendar.period_end(days, np.full(days.size, "US"))
    # 2024-03-29 is Good Friday: the last business days of March are the 27th and 28th.
    marked = {str(d) for d in days[month_end]}
    assert marked == {"2024-03-27", "2024-03-28"}
    assert quarter_end[month_end].all()


def test_holidays_in_window_counts_open_closed_interval(calendar: SettlementCalendar) -> None:
    n = calendar.holidays_in_window(
        np.array(["2024-11-27", "2024-11-28"], dtype="datetime64[D]"),
        np.array(["2024-11-29", "2024-11-29"], dtype="datetime64[D]"),
        np.array(["US", "US"]),
    )
    assert list(n) == [1, 0]


def test_isin_check_digit() -> None:
    assert isin_from_nsin("US", "037833100") == "US0378331005"  # Apple
    assert isin_from_nsin("GB", "000263494") == "GB0002634946"  # BAE Systems
