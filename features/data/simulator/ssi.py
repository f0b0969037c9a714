"""Standing settlement instructions: versions per (counterparty, market, asset class).

A new version takes effect at a random time (a Poisson process whose rate grows for drifting
counterparties) and is verified some days later, or never.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.markets import MARKETS
from core.vocabulary import ASSET_CLASSES
from features.data.simulator.params import Mechanisms
from features.data.simulator.world import World

__all__ = ["SsiBook", "draw_ssi"]

_DAY_US = 86_400 * 1_000_000
_HISTORY_DAYS = 400  # versions older than this before the start are summarised by one


@dataclass
class SsiBook:
    frame: pd.DataFrame  # the public ssi table
    combo: np.ndarray  # combo id per version row, sorted by (combo, valid_from)
    valid_from: np.ndarray  # int64 µs
    verified: np.ndarray  # int64 µs; int64 max when never verified
    rate_start: np.ndarray  # change rate per day of each counterparty at the start
    rate_end: np.ndarray  # ... and at the end

    @staticmethod
    def combo_id(cpty: np.ndarray, market: np.ndarray, asset: np.ndarray) -> np.ndarray:
        m = pd.Index(list(MARKETS)).get_indexer(pd.Index(market))
        a = pd.Index(list(ASSET_CLASSES)).get_indexer(pd.Index(asset))
        combo: np.ndarray = (cpty * len(MARKETS) + m) * len(ASSET_CLASSES) + a
        return combo

    def state_at(
        self, combo: np.ndarray, ts: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(valid_from, verified, next change) of the version in force at each (combo, ts)."""
        key = combo.astype(np.int64) * (1 << 42) + ts // 1_000_000
        keys = self.combo.astype(np.int64) * (1 << 42) + self.valid_from // 1_000_000
        pos = np.searchsorted(keys, key, side="right") - 1
        pos = np.clip(pos, 0, keys.size - 1)
        nxt = np.minimum(pos + 1, keys.size - 1)
        has_next = (pos + 1 < keys.size) & (self.combo[nxt] == combo)
        next_change = np.where(has_next, self.valid_from[nxt], np.iinfo(np.int64).max)
        return self.valid_from[pos], self.verified[pos], next_change

    def change_rate(self, cpty: np.ndarray, frac_of_period: np.ndarray) -> np.ndarray:
        start, end = self.rate_start[cpty], self.rate_end[cpty]
        rate: np.ndarray = start + (end - start) * frac_of_period
        return rate


def draw_ssi(
    rng: np.random.Generator, P: Mechanisms, world: World, start_us: int, end_us: int
) -> SsiBook:
    cp = world.counterparties
    n_c, n_m, n_a = len(cp), len(MARKETS), len(ASSET_CLASSES)
    q = world.cpty_quality
    rate_start = P.SSI_CHANGE_RATE * np.sqrt(q)
    rate_end = rate_start * world.cpty_drift_end
    # The first version is in place from the eve of onboarding.
    onboard = cp["onboarded_date"].to_numpy("datetime64[us]").astype(np.int64) - _DAY_US // 2
    combos = np.arange(n_c * n_m * n_a)
    c_of = combos // (n_m * n_a)
    first = onboard[c_of]
    # Changes: thinning of a Poisson process at the peak rate over [history start, end].
    lo = np.maximum(first, start_us - _HISTORY_DAYS * _DAY_US)
    span_days = np.maximum(end_us - lo, 0) / _DAY_US
    peak = np.maximum(rate_start, rate_end)[c_of]
    n_cand = rng.poisson(peak * span_days)
    cand_combo = np.repeat(combos, n_cand)
    cand_ts = lo[cand_combo] + (rng.random(cand_combo.size) * (end_us - lo[cand_combo])).astype(
        np.int64
    )
    frac = np.clip((cand_ts - start_us) / max(end_us - start_us, 1), 0.0, 1.0)
    cc = c_of[cand_combo]
    rate = rate_start[cc] + (rate_end[cc] - rate_start[cc]) * frac
    accept = rng.random(cand_combo.size) < rate / peak[cand_combo]
    combo = np.concatenate([combos, cand_combo[accept]])
    valid_from = np.concatenate([first, cand_ts[accept]])
    order = np.lexsort((valid_from, combo))
    combo, valid_from = combo[order], valid_from[order]
    starts = np.r_[True, combo[1:] != combo[:-1]]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(combo.size), 0))
    version = np.arange(combo.size) - group_start + 1

    qc = q[combo // (n_m * n_a)]
    lag = rng.exponential(P.SSI_VERIFY_MEAN_DAYS * qc**0.7) * _DAY_US
    never = rng.random(combo.size) < np.clip(P.SSI_NEVER_VERIFIED * qc, 0.0, 0.5)
    verified = np.where(never, np.iinfo(np.int64).max, valid_from + lag.astype(np.int64))

    m_codes = np.array(list(MARKETS))
    a_codes = np.array(ASSET_CLASSES)
    frame = pd.DataFrame(
        {
            "counterparty_id": cp["counterparty_id"].to_numpy()[combo // (n_m * n_a)],
            "market": m_codes[(combo // n_a) % n_m].astype(object),
            "asset_class": a_codes[combo % n_a].astype(object),
            "version": version,
            "valid_from_ts": pd.DatetimeIndex(valid_from.astype("datetime64[us]")).tz_localize(
                "UTC"
            ),
            "verified_ts": pd.DatetimeIndex(
                np.where(never, np.datetime64("NaT"), verified.astype("datetime64[us]"))
            ).tz_localize("UTC"),
        }
    )
    # A verification after the end of the simulated period has not happened yet.
    frame.loc[verified > end_us, "verified_ts"] = pd.NaT
    for col in ("valid_from_ts", "verified_ts"):
        frame[col] = frame[col].astype("datetime64[us, UTC]")
    return SsiBook(frame, combo, valid_from, verified, rate_start, rate_end)
