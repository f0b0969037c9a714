"""Trailing-window sums of timestamped facts, evaluated at refresh instants, vectorised.

A *fact* is a number attached to an entity that became known at an instant (a trade's
outcome at its known_ts, an execution at its execution_ts). A feature value at refresh
instant ``s`` sums the entity's facts known in ``(s - window, s]``: nothing known after ``s``
can enter it, which is what makes the feature tables point-in-time correct.
Instants are int64 microseconds since the epoch (UTC).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

__all__ = ["DAY_US", "Facts", "refresh_instants", "shrunk_rate", "window_sums"]

DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True)
class Facts:
    """Per-entity facts: ``entity`` codes (int), ``known_us`` instants, named float values."""

    entity: np.ndarray
    known_us: np.ndarray
    values: Mapping[str, np.ndarray]

    def __post_init__(self) -> None:
        for name, column in self.values.items():
            if column.shape != self.entity.shape:
                raise ValueError(
                    f"fact value {name!r} has {column.shape[0]} rows; expected {self.entity.size}"
                )


def window_sums(
    facts: Facts, entity: np.ndarray, at_us: np.ndarray, window_days: int
) -> dict[str, np.ndarray]:
    """For each (entity, instant) row, every fact value summed over ``(at - window, at]``."""
    instants = np.concatenate([facts.known_us, at_us])
    if instants.size == 0:
        return {name: np.zeros(0) for name in facts.values}
    lo_all = int(instants.min()) - window_days * DAY_US
    hi_all = int(instants.max())
    stride = hi_all - lo_all + 2
    n_entities = int(np.concatenate([facts.entity, entity]).max()) + 1
    if n_entities * stride >= np.iinfo(np.int64).max // 2:
        raise OverflowError("too many entities over too long a span for int64 keys")
    # One sortable key per fact: entity first, then time; windows become two searchsorteds.
    fact_key = facts.entity.astype(np.int64) * stride + (facts.known_us - lo_all)
    order = np.argsort(fact_key, kind="stable")
    fact_key = fact_key[order]
    base = entity.astype(np.int64) * stride
    hi = np.searchsorted(fact_key, base + (at_us - lo_all), side="right")
    lo = np.searchsorted(fact_key, base + (at_us - lo_all - window_days * DAY_US), side="right")
    out = {}
    for name, column in facts.values.items():
        cum = np.concatenate([[0.0], np.cumsum(column[order], dtype=np.float64)])
        out[name] = cum[hi] - cum[lo]
    return out


def refresh_instants(
    entity: np.ndarray, known_us: np.ndarray, arrivals_us: np.ndarray, horizon_us: int
) -> tuple[np.ndarray, np.ndarray]:
    """When each entity's features are recomputed: every UTC midnight after its first fact up to
    ``horizon_us``, and at each instant in ``arrivals_us`` (e.g. its outcomes arriving).

    Returns (entity codes, instants), unique and sorted. ``arrivals_us`` is aligned with
    ``entity``/``known_us``; NaT-like values (int64 min) are ignored.
    """
    first = pd.Series(known_us).groupby(entity).min()
    start_day = first.to_numpy() // DAY_US + 1
    end_day = horizon_us // DAY_US
    counts = np.maximum(end_day - start_day + 1, 0)
    grid_entity = np.repeat(first.index.to_numpy(), counts)
    offsets = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts, counts)
    grid_us = (np.repeat(start_day, counts) + offsets) * DAY_US
    valid = arrivals_us > np.iinfo(np.int64).min
    frame = pd.DataFrame(
        {
            "entity": np.concatenate([grid_entity, entity[valid]]),
            "at_us": np.concatenate([grid_us, arrivals_us[valid]]),
        }
    )
    frame = (
        frame.loc[frame["at_us"] <= horizon_us].drop_duplicates().sort_values(["entity", "at_us"])
    )
    return frame["entity"].to_numpy(), frame["at_us"].to_numpy()


def shrunk_rate(
    events: np.ndarray,
    exposure: np.ndarray,
    prior: np.ndarray | float,
    strength: np.ndarray | float,
) -> np.ndarray:
    """Bayesian (beta) shrinkage: ``(events + strength * prior) / (exposure + strength)``.

    With no exposure the rate is the prior; with much, it is the entity's own rate.
    """
    return (events + strength * prior) / (exposure + strength)
