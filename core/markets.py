"""Settlement markets and their holiday rules, as data.

A market is where a trade settles (its CSD). Each has a time zone (the affirmation cutoff and
"end of the intended settlement date" are local times), a currency and a standard settlement
cycle; US and Canadian cash securities moved from T+2 to T+1 on a switch date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable
from dataclasses import dataclass

__all__ = ["MARKETS", "Market", "market_holidays"]


@dataclass(frozen=True)
class Market:
    code: str
    name: str
    tz: str
    currency: str
    cycle_days: int  # standard cycle for cash securities
    switches_to_t1: bool  # moves to T+1 on the simulator's switch date


MARKETS: dict[str, Market] = {
    m.code: m
    for m in (
        Market("US", "United States (DTC)", "America/New_York", "USD", 2, True),
        Market("CA", "Canada (CDS)", "America/Toronto", "CAD", 2, True),
        Market("GB", "United Kingdom (CREST)", "Europe/London", "GBP", 2, False),
        Market("DE", "Germany (Clearstream)", "Europe/Berlin", "EUR", 2, False),
        Market("FR", "France (Euroclear)", "Europe/Paris", "EUR", 2, False),
        Market("JP", "Japan (JASDEC)", "Asia/Tokyo", "JPY", 2, False),
    )
}


def _easter(year: int) -> dt.date:
    """Gregorian Easter Sunday (anonymous Gregorian algorithm)."""
    a, b, c = year % 19, year // 100, year % 100
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return dt.date(year, month, day + 1)


def _nth_weekday(year: int, month: int, weekday: int, n: int) -> dt.date:
    """The n-th given weekday (Mon=0) of a month; n=-1 for the last one."""
    if n > 0:
        first = dt.date(year, month, 1)
        return first + dt.timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    nxt = dt.date(year + (month == 12), month % 12 + 1, 1)
    last = nxt - dt.timedelta(days=1)
    return last - dt.timedelta(days=(last.weekday() - weekday) % 7)


def _observed_us(day: dt.date) -> dt.date:
    """US rule: Saturday holidays are observed on Friday, Sunday ones on Monday."""
    return day + dt.timedelta(days={5: -1, 6: 1}.get(day.weekday(), 0))


def _observed_next(day: dt.date) -> dt.date:
    """UK/Canada/Japan rule: weekend holidays move to the next Monday."""
    return day + dt.timedelta(days={5: 2, 6: 1}.get(day.weekday(), 0))


def _us(y: int) -> Iterable[tuple[dt.date, str]]:
    yield _observed_us(dt.date(y, 1, 1)), "New Year's Day"
    yield _nth_weekday(y, 1, 0, 3), "Martin Luther King Jr. Day"
    yield _nth_weekday(y, 2, 0, 3), "Washington's Birthday"
    yield _easter(y) - dt.timedelta(days=2), "Good Friday"
    yield _nth_weekday(y, 5, 0, -1), "Memorial Day"
    yield _observed_us(dt.date(y, 6, 19)), "Juneteenth"
    yield _observed_us(dt.date(y, 7, 4)), "Independence Day"
    yield _nth_weekday(y, 9, 0, 1), "Labor Day"
    yield _nth_weekday(y, 11, 3, 4), "Thanksgiving Day"
    yield _observed_us(dt.date(y, 12, 25)), "Christmas Day"


def _ca(y: int) -> Iterable[tuple[dt.date, str]]:
    yield _observed_next(dt.date(y, 1, 1)), "New Year's Day"
    yield _nth_weekday(y, 2, 0, 3), "Family Day"
    yield _easter(y) - dt.timedelta(days=2), "Good Friday"
    may25 = dt.date(y, 5, 25)
    yield may25 - dt.timedelta(days=(may25.weekday() - 0) % 7), "Victoria Day"
    yield _observed_next(dt.date(y, 7, 1)), "Canada Day"
    yield _nth_weekday(y, 8, 0, 1), "Civic Holiday"
    yield _nth_weekday(y, 9, 0, 1), "Labour Day"
    yield _nth_weekday(y, 10, 0, 2), "Thanksgiving Day"
    yield _observed_next(dt.date(y, 12, 25)), "Christmas Day"
    yield (
        _observed_next(dt.date(y, 12, 26))
        + dt.timedelta(days=1 if dt.date(y, 12, 25).weekday() >= 5 else 0),
        "Boxing Day",
    )


def _gb(y: int) -> Iterable[tuple[dt.date, str]]:
    yield _observed_next(dt.date(y, 1, 1)), "New Year's Day"
    yield _easter(y) - dt.timedelta(days=2), "Good Friday"
    yield _easter(y) + dt.timedelta(days=1), "Easter Monday"
    yield _nth_weekday(y, 5, 0, 1), "Early May Bank Holiday"
    yield _nth_weekday(y, 5, 0, -1), "Spring Bank Holiday"
    yield _nth_weekday(y, 8, 0, -1), "Summer Bank Holiday"
    yield _observed_next(dt.date(y, 12, 25)), "Christmas Day"
    yield (
        _observed_next(dt.date(y, 12, 26))
        + dt.timedelta(days=1 if dt.date(y, 12, 25).weekday() >= 5 else 0),
        "Boxing Day",
    )


def _target2(y: int) -> Iterable[tuple[dt.date, str]]:
    # TARGET2 closing days: the euro settlement calendar shared by DE and FR.
    yield dt.date(y, 1, 1), "New Year's Day"
    yield _easter(y) - dt.timedelta(days=2), "Good Friday"
    yield _easter(y) + dt.timedelta(days=1), "Easter Monday"
    yield dt.date(y, 5, 1), "Labour Day"
    yield dt.date(y, 12, 25), "Christmas Day"
    yield dt.date(y, 12, 26), "St. Stephen's Day"


def _jp(y: int) -> Iterable[tuple[dt.date, str]]:
    for d in (1, 2, 3):
        yield dt.date(y, 1, d), "New Year Holiday"
    yield _nth_weekday(y, 1, 0, 2), "Coming of Age Day"
    yield _observed_next(dt.date(y, 2, 11)), "National Foundation Day"
    yield _observed_next(dt.date(y, 2, 23)), "Emperor's Birthday"
    yield _observed_next(dt.date(y, 3, 20)), "Vernal Equinox Day"
    yield _observed_next(dt.date(y, 4, 29)), "Showa Day"
    for d, name in ((3, "Constitution Day"), (4, "Greenery Day"), (5, "Children's Day")):
        yield dt.date(y, 5, d), name
    yield _nth_weekday(y, 7, 0, 3), "Marine Day"
    yield _observed_next(dt.date(y, 8, 11)), "Mountain Day"
    yield _nth_weekday(y, 9, 0, 3), "Respect for the Aged Day"
    yield _observed_next(dt.date(y, 9, 23)), "Autumnal Equinox Day"
    yield _nth_weekday(y, 10, 0, 2), "Sports Day"
    yield _observed_next(dt.date(y, 11, 3)), "Culture Day"
    yield _observed_next(dt.date(y, 11, 23)), "Labour Thanksgiving Day"
    yield dt.date(y, 12, 31), "Bank Holiday"


_RULES: dict[str, Callable[[int], Iterable[tuple[dt.date, str]]]] = {
    "US": _us,
    "CA": _ca,
    "GB": _gb,
    "DE": _target2,
    "FR": _target2,
    "JP": _jp,
}


def market_holidays(years: Iterable[int]) -> list[tuple[str, dt.date, str]]:
    """(market, date, name) for every weekday holiday of every market in the given years."""
    rows = {
        (code, day, name)
        for code, rule in _RULES.items()
        for year in years
        for day, name in rule(year)
        if day.weekday() < 5
    }
    return sorted(rows)
