"""Scoring stages: the moments in a trade's life at which it is scored, and when they are."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.calendar import SettlementCalendar
from features.compute.facts import instants_us

__all__ = ["ISD_EVE_MINUTES", "STAGES", "stage_at", "stage_instants"]

STAGES = ("EXECUTION", "CUTOFF", "ISD_1")
"""At execution; just after the affirmation cutoff; late on the business day before the ISD."""

ISD_EVE_MINUTES = 23 * 60
"""ISD_1 is scored at 23:00 local on the business day before the intended settlement date."""
_MINUTE_US = 60_000_000


def stage_instants(trades: pd.DataFrame, calendar: SettlementCalendar, stage: str) -> np.ndarray:
    """When each trade is scored at ``stage`` (int64 UTC µs); never before its execution."""
    return _instants(
        instants_us(trades["execution_ts"]),
        trades["settlement_date"].to_numpy("datetime64[D]"),
        trades["settlement_market"].to_numpy(),
        calendar,
        stage,
    )


def stage_at(
    execution_us: np.ndarray,
    settlement_date: np.ndarray,
    settlement_market: np.ndarray,
    calendar: SettlementCalendar,
    scoring_us: np.ndarray,
) -> np.ndarray:
    """The latest stage each trade has reached at ``scoring_us``: the stage its score is
    comparable with."""
    isd = np.asarray(settlement_date, dtype="datetime64[D]")
    market = np.asarray(settlement_market, dtype=object)
    scoring = np.asarray(scoring_us, dtype=np.int64)
    out = np.full(scoring.shape, STAGES[0], dtype=object)
    for stage in STAGES[1:]:
        reached = scoring >= _instants(np.asarray(execution_us), isd, market, calendar, stage)
        out[reached] = stage
    return out


def _instants(
    execution: np.ndarray,
    isd: np.ndarray,
    market: np.ndarray,
    calendar: SettlementCalendar,
    stage: str,
) -> np.ndarray:
    if stage == "EXECUTION":
        return execution
    if stage == "CUTOFF":
        at = calendar.affirmation_cutoff(isd, market).astype(np.int64) + _MINUTE_US
    elif stage == "ISD_1":
        eve = calendar.add_business_days(isd, -1, market)
        at = calendar.local_to_utc(eve, np.full(isd.shape, ISD_EVE_MINUTES), market).astype(
            np.int64
        )
    else:
        raise ValueError(f"unknown scoring stage {stage!r}; expected one of {', '.join(STAGES)}")
    return np.maximum(at, execution)
