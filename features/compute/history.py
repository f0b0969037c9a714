"""Entity histories: smoothed fail rates, activity and affirmation behaviour over trailing windows.

Each row is one entity's values at one refresh instant (``event_timestamp``): every UTC
midnight after the entity's first fact, and whenever its outcomes arrive. A rate is shrunk
toward the population rate of the same window at the same instant (``PRIOR_STRENGTH``
pseudo-trades), so a new counterparty reads as "like everyone else", not 0% or 100%.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.instants import NEVER_US
from features.compute.facts import TradeFacts
from features.compute.rolling import Facts, refresh_instants, shrunk_rate, window_sums

__all__ = [
    "PRIOR_STRENGTH",
    "WINDOWS_DAYS",
    "account_history",
    "counterparty_history",
    "instrument_history",
]

WINDOWS_DAYS = (7, 30, 90)
PRIOR_STRENGTH = 20.0
"""Pseudo-trades of population behaviour added to every entity's history."""

Values = dict[str, np.ndarray]
"""Named float columns aligned on facts, or on (entity, instant) rows."""

CAUSE_RATES = {
    "securities": "LACK_OF_SECURITIES",
    "ssi": "SSI_MISMATCH",
    "late_match": "LATE_MATCHING",
    "cash": "LACK_OF_CASH",
}


class _Keys:
    """Integer codes for an entity's key columns, and the way back to the columns."""

    def __init__(self, **columns: np.ndarray) -> None:
        frame = pd.DataFrame(columns)
        self.names = list(columns)
        self.codes, uniques = pd.MultiIndex.from_frame(frame).factorize()
        self.uniques = pd.MultiIndex.from_tuples(uniques, names=self.names).to_frame(index=False)

    def code_of(self, values: np.ndarray) -> np.ndarray:
        """Codes of single-column key values; every value must be known."""
        codes = pd.Index(self.uniques[self.names[0]]).get_indexer(values)
        if (codes < 0).any():
            raise KeyError(f"unknown {self.names[0]}: {sorted(set(np.asarray(values)[codes < 0]))}")
        return np.asarray(codes)

    def columns(self, codes: np.ndarray) -> dict[str, np.ndarray]:
        return {n: self.uniques[n].to_numpy()[codes] for n in self.names}


class _History:
    """One family's refresh grid (or chosen entities at one instant) and the population."""

    def __init__(
        self, keys: _Keys, f: TradeFacts, at: tuple[np.ndarray, int] | None = None
    ) -> None:
        self.keys, self.f = keys, f
        if at is None:  # an entity's first fact is its first execution
            self.entity, self.at_us = refresh_instants(
                keys.codes, f.execution_us, f.outcome_us, f.horizon_us
            )
        else:
            self.entity = keys.code_of(at[0])
            self.at_us = np.full(self.entity.size, at[1], dtype=np.int64)

    def sums(self, mask: np.ndarray, known_us: np.ndarray, values: Values, days: int) -> Values:
        facts = Facts(
            self.keys.codes[mask], known_us[mask], {k: v[mask] for k, v in values.items()}
        )
        return window_sums(facts, self.entity, self.at_us, days)

    def population(
        self, mask: np.ndarray, known_us: np.ndarray, values: Values, days: int
    ) -> Values:
        facts = Facts(
            np.zeros(int(mask.sum()), np.int64),
            known_us[mask],
            {k: v[mask] for k, v in values.items()},
        )
        return window_sums(facts, np.zeros(self.at_us.size, np.int64), self.at_us, days)

    def outcome_rates(
        self,
        prefix: str,
        windows: tuple[int, ...],
        value: bool = False,
        causes: tuple[str, ...] = (),
    ) -> dict[str, np.ndarray]:
        """Smoothed fail rates per window (count, optionally value) and, for the longest
        window, the number of outcomes and smoothed rates of the named ``CAUSE_RATES``."""
        f = self.f
        mask = f.has_outcome
        values = {
            "n": np.ones(f.failed.size),
            "fails": f.failed.astype(np.float64),
            "notional": f.notional,
            "fail_notional": f.notional * f.failed,
        }
        values |= {c: (f.fail_reason == CAUSE_RATES[c]).astype(np.float64) for c in causes}
        out: dict[str, np.ndarray] = {}
        for days in windows:
            own = self.sums(mask, f.outcome_us, values, days)
            pop = self.population(mask, f.outcome_us, values, days)
            with np.errstate(invalid="ignore", divide="ignore"):
                prior = pop["fails"] / pop["n"]
                out[f"{prefix}_fail_rate_{days}d"] = shrunk_rate(
                    own["fails"], own["n"], prior, PRIOR_STRENGTH
                )
                if value:
                    pseudo = PRIOR_STRENGTH * pop["notional"] / pop["n"]
                    out[f"{prefix}_value_fail_rate_{days}d"] = shrunk_rate(
                        own["fail_notional"],
                        own["notional"],
                        pop["fail_notional"] / pop["notional"],
                        pseudo,
                    )
                if days == max(windows):
                    for c in causes:
                        out[f"{prefix}_{c}_fail_rate_{days}d"] = shrunk_rate(
                            own[c], own["n"], pop[c] / pop["n"], PRIOR_STRENGTH
                        )
            if days == max(windows):
                out[f"{prefix}_outcomes_{days}d"] = own["n"]
        return out

    def frame(self, features: dict[str, np.ndarray]) -> pd.DataFrame:
        frame = pd.DataFrame(self.keys.columns(self.entity))
        frame["event_timestamp"] = pd.to_datetime(self.at_us, unit="us", utc=True).as_unit("us")
        for name, values in features.items():
            frame[name] = values
        return frame


def counterparty_history(
    f: TradeFacts, ssi: pd.DataFrame | None, at: tuple[np.ndarray, int] | None = None
) -> pd.DataFrame:
    """Counterparty rows on the refresh grid, or for ``at = (counterparty ids, instant)``."""
    h = _History(_Keys(counterparty_id=f.counterparty_id), f, at)
    features = h.outcome_rates(
        "cpty", WINDOWS_DAYS, value=True, causes=("securities", "ssi", "late_match")
    )

    everyone = np.ones(f.notional.size, dtype=bool)
    activity = {"trades": np.ones(f.notional.size), "notional": f.notional}
    last30 = h.sums(everyone, f.execution_us, activity, 30)
    last90 = h.sums(everyone, f.execution_us, activity, 90)
    features["cpty_trades_30d"] = last30["trades"]
    features["cpty_notional_30d"] = last30["notional"]
    with np.errstate(invalid="ignore", divide="ignore"):
        features["cpty_mean_notional_90d"] = last90["notional"] / last90["trades"]

    affirm = f.affirm_known_us != NEVER_US
    affirmed = f.affirmed_us != NEVER_US
    latency_min = np.where(affirmed, (f.affirmed_us - f.execution_us) / 60e6, 0.0)
    facts = {"n": np.ones(f.notional.size), "late": f.affirm_late.astype(np.float64)}
    own = h.sums(affirm, f.affirm_known_us, facts, 30)
    pop = h.population(affirm, f.affirm_known_us, facts, 30)
    lat = h.sums(affirmed, f.affirmed_us, {"n": np.ones(f.notional.size), "min": latency_min}, 30)
    with np.errstate(invalid="ignore", divide="ignore"):
        features["cpty_late_affirm_rate_30d"] = shrunk_rate(
            own["late"], own["n"], pop["late"] / pop["n"], PRIOR_STRENGTH
        )
        features["cpty_affirm_minutes_30d"] = lat["min"] / lat["n"]
    features |= _matching(h, "cpty", 30)
    features["cpty_ssi_changes_30d"] = _ssi_changes(h, ssi, 30)
    return h.frame(features)


def _matching(h: _History, prefix: str, days: int) -> dict[str, np.ndarray]:
    """The share of trades not matched by the eve of their ISD (smoothed), known at the
    match or at the eve, and the mean minutes from instruction to match of trades matched
    in the window."""
    f, out = h.f, {}
    known = f.match_known_us != NEVER_US
    facts = {"n": np.ones(f.notional.size), "late": f.match_late.astype(np.float64)}
    own = h.sums(known, f.match_known_us, facts, days)
    pop = h.population(known, f.match_known_us, facts, days)
    with np.errstate(invalid="ignore", divide="ignore"):
        out[f"{prefix}_late_match_rate_{days}d"] = shrunk_rate(
            own["late"], own["n"], pop["late"] / pop["n"], PRIOR_STRENGTH
        )
        matched = (f.matched_us != NEVER_US) & (f.instructed_us != NEVER_US)
        lag = np.where(matched, (f.matched_us - f.instructed_us) / 60e6, 0.0)
        sums = h.sums(matched, f.matched_us, {"n": facts["n"], "min": lag}, days)
        out[f"{prefix}_match_minutes_{days}d"] = sums["min"] / sums["n"]
    return out


def _ssi_changes(h: _History, ssi: pd.DataFrame | None, days: int) -> np.ndarray:
    """New SSI versions that took effect in the window, across the counterparty's markets."""
    if ssi is None or ssi.empty:
        return np.zeros(h.at_us.size)
    codes = pd.Index(h.keys.uniques["counterparty_id"]).get_indexer(ssi["counterparty_id"])
    known = (
        ssi["valid_from_ts"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy("datetime64[us]")
    )
    keep = codes >= 0
    facts = Facts(codes[keep], known.astype(np.int64)[keep], {"n": np.ones(int(keep.sum()))})
    return window_sums(facts, h.entity, h.at_us, days)["n"]


def instrument_history(f: TradeFacts) -> pd.DataFrame:
    h = _History(_Keys(instrument_id=f.instrument_id), f)
    return h.frame(h.outcome_rates("inst", (30, 90), causes=("securities",)))


def account_history(f: TradeFacts, at: tuple[np.ndarray, int] | None = None) -> pd.DataFrame:
    """Account rows on the refresh grid, or for ``at = (account ids, instant)``: its fails for
    lack of cash. Only buys fail for lack of cash; the rate is over all the account's trades,
    so that it needs no side and an account's funding trouble reads the same whatever its mix
    of buys and sells."""
    h = _History(_Keys(account_id=f.account_id), f, at)
    rates = h.outcome_rates("acct", (90,), causes=("cash",))
    return h.frame({"acct_cash_fail_rate_90d": rates["acct_cash_fail_rate_90d"]})
