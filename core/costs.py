"""What a fail costs: CSDR-style cash penalties, configurable, in the trade currency.

expected_cost = P(fail) × notional × daily penalty rate × expected days late. Rates follow the
CSDR cash-penalty schedule (basis points of the trade value per business day late): liquid
shares 1.0, illiquid shares 0.5, sovereign debt 0.10, other debt 0.20. An equity or ETF is
illiquid when its average daily volume is below ``ILLIQUID_ADV``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "DEFAULT_PENALTIES",
    "CostModel",
    "PenaltySchedule",
    "expected_days_late",
    "penalty_cost",
]

ILLIQUID_ADV = 100_000.0
"""Units per day below which a share or ETF counts as illiquid."""


@dataclass(frozen=True)
class PenaltySchedule:
    """Daily penalty rates in basis points of the trade value, by asset class."""

    liquid_bps: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType(
            {"EQUITY": 1.0, "ETF": 1.0, "GOVT_BOND": 0.10, "CORP_BOND": 0.20}
        )
    )
    illiquid_bps: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({"EQUITY": 0.5, "ETF": 0.5})
    )
    illiquid_adv: float = ILLIQUID_ADV

    def daily_rate(self, asset_class: ArrayLike, adv: ArrayLike) -> np.ndarray:
        """Penalty per day as a fraction of the trade value (NaN ADV counts as liquid)."""
        asset_class = np.asarray(asset_class, dtype=object)
        liquid = np.array([self.liquid_bps.get(a, np.nan) for a in asset_class], dtype=float)
        illiquid = np.array(
            [self.illiquid_bps.get(a, self.liquid_bps.get(a, np.nan)) for a in asset_class],
            dtype=float,
        )
        thin = np.asarray(adv, dtype=float) < self.illiquid_adv
        return np.where(thin, illiquid, liquid) / 1e4


DEFAULT_PENALTIES = PenaltySchedule()


def penalty_cost(
    notional: ArrayLike,
    asset_class: ArrayLike,
    adv: ArrayLike,
    days_late: ArrayLike,
    schedule: PenaltySchedule = DEFAULT_PENALTIES,
) -> np.ndarray:
    """Cash penalty of a fail lasting ``days_late`` business days, in the trade currency."""
    cost: np.ndarray = np.asarray(notional, float) * schedule.daily_rate(asset_class, adv)
    return cost * days_late


REPORTING_CURRENCY = "USD"
USD_PER_UNIT: Mapping[str, float] = MappingProxyType(
    {"USD": 1.0, "CAD": 0.73, "GBP": 1.27, "EUR": 1.08, "JPY": 0.0067}
)
"""Indicative rates into the reporting currency: enough to rank trades in different
currencies on one queue, not to book anything."""


def in_reporting_currency(amount: ArrayLike, currency: ArrayLike) -> np.ndarray:
    """Amounts in their currencies, in the reporting currency (NaN for an unknown one)."""
    rates = np.array(
        [USD_PER_UNIT.get(c, np.nan) for c in np.atleast_1d(np.asarray(currency, dtype=object))]
    )
    converted: np.ndarray = np.asarray(amount, dtype=float) * (
        rates if np.ndim(currency) else rates[0]
    )
    return converted


DEFAULT_DAYS_LATE = 2.0
"""Expected business days late of a fail when the model carries no estimate of its own."""
ALL_CLASSES = "ALL"


def expected_days_late(asset_class: ArrayLike, days_late: ArrayLike) -> dict[str, float]:
    """Mean days late of failed trades by asset class (and over all, ``ALL``): the
    training data's estimate of how long a fail lasts."""
    asset_class = np.asarray(asset_class, dtype=object)
    days_late = np.asarray(days_late, dtype=float)
    out = {ALL_CLASSES: float(days_late.mean()) if days_late.size else DEFAULT_DAYS_LATE}
    for name in np.unique(asset_class):
        out[str(name)] = float(days_late[asset_class == name].mean())
    return out


@dataclass(frozen=True)
class CostModel:
    """expected_cost = P(fail) × notional × daily penalty rate × expected days late."""

    days_late: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({ALL_CLASSES: DEFAULT_DAYS_LATE})
    )
    schedule: PenaltySchedule = DEFAULT_PENALTIES

    def expected_days(self, asset_class: ArrayLike) -> np.ndarray:
        overall = self.days_late.get(ALL_CLASSES, DEFAULT_DAYS_LATE)
        classes = np.asarray(asset_class, dtype=object)
        return np.array([self.days_late.get(a, overall) for a in classes], dtype=float)

    def expected_cost(
        self,
        probability: ArrayLike,
        notional: ArrayLike,
        asset_class: ArrayLike,
        adv: ArrayLike,
    ) -> np.ndarray:
        """Expected penalty of each trade in its own currency; an unknown instrument (no
        asset class) is priced at the highest rate, since its risk cannot be told."""
        asset_class = np.asarray(asset_class, dtype=object)
        days = self.expected_days(asset_class)
        cost = np.asarray(probability, float) * penalty_cost(
            notional, asset_class, adv, days, self.schedule
        )
        worst = max(self.schedule.liquid_bps.values()) / 1e4
        fallback = np.asarray(probability, float) * np.asarray(notional, float) * worst * days
        priced: np.ndarray = np.where(np.isnan(cost), fallback, cost)
        return priced
