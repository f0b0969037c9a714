"""What a fail is expected to cost, in the trade currency.

expected cost = P(fail) × (penalty + funding + buy-in exposure) of a fail lasting the expected
days late, each part priced by the settlement market's regime (``core.regimes``, the data of
``cost_regimes.yaml``). The expected days late are the training data's, by asset class.

``PenaltySchedule`` is the single CSDR-style schedule failcast priced every market with
before it had regimes (liquid shares and ETFs 1.0 bp, illiquid 0.5, sovereign debt 0.10,
other debt 0.20): the training data's penalty and the backtest's comparison with it. An
equity or ETF is illiquid when its average daily volume is below ``ILLIQUID_ADV``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

import numpy as np
from numpy.typing import ArrayLike

from core.regimes import CostParts, CostRegimes, active_regimes, price_fails

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


def in_reporting_currency(amount: ArrayLike, currency: ArrayLike) -> np.ndarray:
    """Amounts in their currencies, in the reporting currency at the indicative rates of the
    cost regimes in force (NaN for an unknown currency)."""
    return active_regimes().in_reporting_currency(amount, currency)


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
    """Expected days late by asset class, and what a fail costs from them."""

    days_late: Mapping[str, float] = field(
        default_factory=lambda: MappingProxyType({ALL_CLASSES: DEFAULT_DAYS_LATE})
    )
    schedule: PenaltySchedule = DEFAULT_PENALTIES

    def expected_days(self, asset_class: ArrayLike) -> np.ndarray:
        overall = self.days_late.get(ALL_CLASSES, DEFAULT_DAYS_LATE)
        classes = np.asarray(asset_class, dtype=object)
        return np.array([self.days_late.get(a, overall) for a in classes], dtype=float)

    def expected_parts(
        self,
        probability: ArrayLike,
        *,
        notional: ArrayLike,
        asset_class: ArrayLike,
        adv: ArrayLike,
        market: ArrayLike,
        currency: ArrayLike,
        side: ArrayLike,
        cause: ArrayLike,
        regimes: CostRegimes | None = None,
    ) -> CostParts:
        """Each trade's expected penalty, funding and buy-in exposure in its own currency,
        by its market's regime; a fail predicted for lack of cash pays CSDR's cash rate."""
        classes = np.asarray(asset_class, dtype=object)
        liquid = ~(np.asarray(adv, dtype=float) < self.schedule.illiquid_adv)  # NaN: liquid
        parts = price_fails(
            regimes or active_regimes(),
            market=market,
            currency=currency,
            asset_class=classes,
            liquid=liquid,
            side=side,
            value=notional,
            days_late=self.expected_days(classes),
            lack_of_cash=np.asarray(cause, dtype=object) == "LACK_OF_CASH",
        )
        return parts.scaled(np.asarray(probability, dtype=float))

    def expected_cost(
        self,
        probability: ArrayLike,
        notional: ArrayLike,
        asset_class: ArrayLike,
        adv: ArrayLike,
    ) -> np.ndarray:
        """Expected penalty of each trade under the one CSDR-style schedule everywhere (what
        failcast priced before regimes); an unknown instrument (no asset class) at the
        highest rate, since its risk cannot be told."""
        asset_class = np.asarray(asset_class, dtype=object)
        days = self.expected_days(asset_class)
        cost = np.asarray(probability, float) * penalty_cost(
            notional, asset_class, adv, days, self.schedule
        )
        worst = max(self.schedule.liquid_bps.values()) / 1e4
        fallback = np.asarray(probability, float) * np.asarray(notional, float) * worst * days
        priced: np.ndarray = np.where(np.isnan(cost), fallback, cost)
        return priced
