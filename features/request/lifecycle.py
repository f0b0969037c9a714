"""Lifecycle request fields rebuilt from the events table as of any instant."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.instants import instants_us
from core.lifecycle import AMENDMENTS, STEPS

__all__ = ["lifecycle_state"]


def lifecycle_state(
    trade_ids: pd.Series, events: pd.DataFrame | None, as_of_us: np.ndarray
) -> pd.DataFrame:
    """The lifecycle request fields (each step's first time, the amendment count) of each
    trade as of its own instant: only events at or before ``as_of_us`` count."""
    as_of = pd.Series(np.asarray(as_of_us, dtype=np.int64), index=trade_ids.index)
    out = pd.DataFrame(index=trade_ids.index)
    if events is None or events.empty:
        for step in STEPS:
            out[step.request] = np.nan
        out[AMENDMENTS.request] = 0
        return out
    rows = pd.DataFrame(
        {
            "trade_id": trade_ids.to_numpy(),
            "row": np.arange(len(trade_ids)),
            "as_of": as_of.to_numpy(),
        }
    )
    seen = events[["trade_id", "event_type", "event_ts"]].merge(rows, on="trade_id")
    seen = seen.loc[instants_us(seen["event_ts"]) <= seen["as_of"].to_numpy()]
    first = seen.assign(us=instants_us(seen["event_ts"])).groupby(["row", "event_type"])["us"].min()
    for step in STEPS:
        kind = step.event
        at = first.xs(kind, level="event_type") if kind in first.index.get_level_values(1) else None
        values = np.full(len(trade_ids), np.nan)
        if at is not None:
            values[at.index.to_numpy()] = at.to_numpy() / 1e6
        out[step.request] = values
    amended = seen.loc[seen["event_type"] == AMENDMENTS.event].groupby("row").size()
    counts = np.zeros(len(trade_ids), dtype=np.int64)
    counts[amended.index.to_numpy()] = amended.to_numpy()
    out[AMENDMENTS.request] = counts
    return out
