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

__all__ = ["DEFAULT_PENALTIES", "PenaltySchedule", "penalty_cost"]

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

    def daily_rate(self, asset_class: np.ndarray, adv: np.ndarray) -> np.ndarray:
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
    notional: np.ndarray,
    asset_class: np.ndarray,
    adv: np.ndarray,
    days_late: np.ndarray | float,
    schedule: PenaltySchedule = DEFAULT_PENALTIES,
) -> np.ndarray:
    """Cash penalty of a fail lasting ``days_late`` business days, in the trade currency."""
    return np.asarray(notional, float) * schedule.daily_rate(asset_class, adv) * days_late
