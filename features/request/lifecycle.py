"""Lifecycle request fields rebuilt from the events table as of any instant.

``Lifecycles`` reads the events once: each trade's first instant of every step and its
amendments. The state of any trade at any instant is then a comparison (a step is done once
its first instant has passed) and, for the few trades ever amended, a count — no join of the
events with every snapshot, which on a year of a desk's trades would hold tens of millions of
rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.instants import NEVER_US, instants_us
from core.lifecycle import AMENDMENTS, STEPS

__all__ = ["Lifecycles", "lifecycle_state"]


@dataclass(frozen=True)
class Lifecycles:
    """The lifecycle of each of ``trades`` (ids, in a fixed order) as its events tell it."""

    trades: pd.Index  # unique ids
    first_us: dict[str, np.ndarray]  # step.request -> first instant per trade (NEVER_US: none)
    amended: pd.DataFrame  # position (of the trade in ``trades``) and instant of each amendment

    @classmethod
    def of(cls, trade_ids: pd.Series | np.ndarray, events: pd.DataFrame | None) -> Lifecycles:
        trades = pd.Index(np.asarray(trade_ids, dtype=object))
        first = {s.request: np.full(len(trades), NEVER_US, dtype=np.int64) for s in STEPS}
        amended = pd.DataFrame({"position": np.zeros(0, np.int64), "us": np.zeros(0, np.int64)})
        if events is None or events.empty:
            return cls(trades, first, amended)
        position = trades.get_indexer(pd.Index(events["trade_id"].to_numpy(dtype=object)))
        kind = events["event_type"].to_numpy()
        at = instants_us(events["event_ts"])
        mine = position >= 0
        for step in STEPS:
            rows = mine & (kind == step.event)
            earliest = (
                pd.Series(at[rows]).groupby(position[rows]).min()
                if rows.any()
                else pd.Series(dtype=np.int64)
            )
            first[step.request][earliest.index.to_numpy()] = earliest.to_numpy()
        rows = mine & (kind == AMENDMENTS.event)
        amended = pd.DataFrame({"position": position[rows], "us": at[rows]})
        return cls(trades, first, amended)

    def at(self, positions: np.ndarray, as_of_us: np.ndarray) -> pd.DataFrame:
        """The lifecycle request fields (each step's first time in epoch seconds, NaN while
        not done; the amendments count) of the trades at ``positions``, each as of its own
        instant: only events at or before it count."""
        positions = np.asarray(positions, dtype=np.int64)
        at = np.asarray(as_of_us, dtype=np.int64)
        out = {}
        for step in STEPS:
            first = self.first_us[step.request][positions]
            out[step.request] = np.where((first != NEVER_US) & (first <= at), first / 1e6, np.nan)
        counts = np.zeros(len(positions), dtype=np.int64)
        if not self.amended.empty:
            asked = pd.DataFrame({"row": np.arange(len(positions)), "position": positions})
            asked = asked.loc[asked["position"].isin(self.amended["position"])]
            if not asked.empty:
                seen = asked.merge(self.amended, on="position")
                seen = seen.loc[seen["us"].to_numpy() <= at[seen["row"].to_numpy()]]
                per_row = seen.groupby("row").size()
                counts[per_row.index.to_numpy()] = per_row.to_numpy()
        out[AMENDMENTS.request] = counts
        return pd.DataFrame(out)


def lifecycle_state(
    trade_ids: pd.Series, events: pd.DataFrame | None, as_of_us: np.ndarray
) -> pd.DataFrame:
    """The lifecycle request fields of each trade as of its own instant (on ``trade_ids``'
    index): only events at or before ``as_of_us`` count."""
    codes, unique = pd.factorize(trade_ids.to_numpy(dtype=object))
    state = Lifecycles.of(np.asarray(unique, dtype=object), events).at(codes, as_of_us)
    return state.set_axis(trade_ids.index)
