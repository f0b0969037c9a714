"""Bounds on what failcast accepts, declared once: what a live request or a dataset may hold
before it is refused with a rule naming the bound. They keep one bad record from poisoning a
store, a memo or a clock."""

from __future__ import annotations

import datetime as dt

__all__ = [
    "EARLIEST_INSTANT",
    "MAX_CYCLE_DAYS",
    "MAX_DAYS_LATE",
    "MAX_ID_LENGTH",
    "MAX_QUEUE_CAPACITY",
    "MAX_SETTLEMENT_WINDOW_DAYS",
    "MAX_SSI_VERSION",
    "NOTIONAL_TOLERANCE",
]

MAX_ID_LENGTH = 64
"""Characters in an identifier (trade, desk, account, counterparty, instrument, actor)."""
EARLIEST_INSTANT = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
"""No timestamp failcast is sent may be earlier; the latest is a setting, from now."""
MAX_SETTLEMENT_WINDOW_DAYS = 90
"""Calendar days from trade date to intended settlement date, forward settlements included."""
MAX_CYCLE_DAYS = 30
"""Business days of a settlement cycle."""
MAX_DAYS_LATE = 3_650
"""Business days an outcome may report a fail lasted."""
MAX_SSI_VERSION = 1_000_000
NOTIONAL_TOLERANCE = 0.05
"""How far a trade's notional may be from quantity × price (or × price / 100 for a price
quoted in percent of par): accrued interest and rounding, not a wrong order of magnitude."""
MAX_QUEUE_CAPACITY = 10_000
"""Most exceptions one queue request lists."""
