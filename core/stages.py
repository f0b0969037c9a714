"""Scoring stages: the moments in a trade's life at which it is scored, and when they are."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.calendar import SettlementCalendar
from core.instants import instants_us

__all__ = ["ISD_EVE_MINUTES", "STAGES", "stage_at", "stage_instants", "stage_starts"]

STAGES = ("EXECUTION", "CUTOFF", "ISD_1")
"""At execution; just after the affirmation cutoff; late on the business day before the ISD."""

ISD_EVE_MINUTES = 23 * 60
"""ISD_1 is scored at 23:00 local on the business day before the intended settlement date."""
_MINUTE_US = 60_000_000


def stage_starts(
    settlement_date: np.ndarray, settlement_market: np.ndarray, calendar: SettlementCalendar
) -> dict[str, np.ndarray]:
    """When the stages after execution begin (int64 UTC µs), from the ISD and market alone."""
    isd = np.asarray(settlement_date, dtype="datetime64[D]")
    market = np.asarray(settlement_market, dtype=object)
    eve = calendar.add_business_days(isd, -1, market)
    return {
        "CUTOFF": calendar.affirmation_cutoff(isd, market).astype(np.int64) + _MINUTE_US,
        "ISD_1": calendar.local_to_utc(eve, np.full(isd.shape, ISD_EVE_MINUTES), market).astype(
            np.int64
        ),
    }


def stage_instants(trades: pd.DataFrame, calendar: SettlementCalendar, stage: str) -> np.ndarray:
    """When each trade is scored at ``stage`` (int64 UTC µs); never before its execution."""
    if stage not in STAGES:
        raise ValueError(f"unknown scoring stage {stage!r}; expected one of {', '.join(STAGES)}")
    execution = instants_us(trades["execution_ts"])
    if stage == STAGES[0]:
        return execution
    starts = stage_starts(
        trades["settlement_date"].to_numpy(), trades["settlement_market"].to_numpy(), calendar
    )
    at: np.ndarray = np.maximum(starts[stage], execution)
    return at


def stage_at(scoring_us: np.ndarray, starts: dict[str, np.ndarray]) -> np.ndarray:
    """The latest stage each trade has reached at ``scoring_us`` (``starts``: from
    ``stage_starts``): the stage its score is comparable with."""
    scoring = np.asarray(scoring_us, dtype=np.int64)
    out = np.full(scoring.shape, STAGES[0], dtype=object)
    for stage in STAGES[1:]:
        out[scoring >= starts[stage]] = stage
    return out
