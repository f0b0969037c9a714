"""What a fail costs, market by market, as data: the regimes of ``cost_regimes.yaml`` (or the
file ``FAILCAST_COST_REGIMES`` names), validated into typed models, and the three parts of
a fail's cost priced from them.

    penalty   the settlement market's cash penalty (CSDR, a fails charge, or none)
    funding   the overnight rate of the currency × the cash leg × calendar days late
    buy-in    P(buy-in | days late) × the expected price move × the value, on a delivery

Days late are business days; a fails charge and funding run per calendar day, taken as
7/5 of the business days. CSDR applies its daily rate to each day's reference price; the
trade's value stands for it here (the price of later days is not known when a fail is
priced).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import ConfigError

__all__ = [
    "DEFAULT_REGIMES",
    "CostBreakdown",
    "CostRegimes",
    "CsdrCategory",
    "csdr_category",
    "load_regimes",
    "price_fail",
]

DEFAULT_REGIMES = Path(__file__).with_name("cost_regimes.yaml")
CALENDAR_PER_BUSINESS_DAY = 7 / 5
Rate = Annotated[float, Field(ge=0, le=1)]
"""An annual rate as a fraction: 0 to 100 %."""


class CsdrCategory(StrEnum):
    """The instrument categories of the CSDR penalty schedule (2017/389, Annex)."""

    LIQUID_SHARES = "liquid_shares"
    ILLIQUID_SHARES = "illiquid_shares"
    SME_GROWTH_SHARES = "sme_growth_shares"
    SOVEREIGN_DEBT = "sovereign_debt"
    SME_GROWTH_DEBT = "sme_growth_debt"
    OTHER_DEBT = "other_debt"
    OTHER_INSTRUMENTS = "other_instruments"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Currency(_Strict):
    usd_per_unit: float = Field(gt=0)
    overnight_rate: Rate
    day_count: Literal[360, 365]
    source: str = Field(min_length=1)


class CsdrPenalty(_Strict):
    kind: Literal["csdr"]
    bps_per_day: dict[CsdrCategory, Annotated[float, Field(ge=0, le=100)]]
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _every_category(self) -> CsdrPenalty:
        missing = sorted(set(CsdrCategory) - set(self.bps_per_day))
        if missing:
            raise ValueError(f"bps_per_day lacks the categories {', '.join(missing)}")
        return self


class FailsCharge(_Strict):
    kind: Literal["fails_charge"]
    applies_to: list[Literal["GOVT_BOND", "CORP_BOND", "EQUITY", "ETF"]] = Field(min_length=1)
    threshold: Rate
    policy_rate: Rate
    day_count: Literal[360, 365]
    source: str = Field(min_length=1)

    @property
    def annual_rate(self) -> float:
        """max(threshold − the policy rate, 0)."""
        return max(self.threshold - self.policy_rate, 0.0)


class NoPenalty(_Strict):
    kind: Literal["none"]
    source: str = Field(min_length=1)


class BuyIn(_Strict):
    after_days: int = Field(ge=0, le=60)
    probability: Rate
    price_move_bps: float = Field(ge=0, le=10_000)
    source: str = Field(min_length=1)


class Regime(_Strict):
    name: str = Field(min_length=1)
    penalty: Annotated[CsdrPenalty | FailsCharge | NoPenalty, Field(discriminator="kind")]
    buy_in: BuyIn
    funding: str = Field(min_length=1)


class CostRegimes(_Strict):
    as_of: dt.date
    reporting_currency: str
    currencies: dict[str, Currency] = Field(min_length=1)
    shared: dict[str, object] = Field(default_factory=dict)  # anchors merged into markets
    markets: dict[str, Regime] = Field(min_length=1)

    @model_validator(mode="after")
    def _reporting_currency_known(self) -> CostRegimes:
        if self.reporting_currency not in self.currencies:
            raise ValueError(
                f"reporting_currency {self.reporting_currency!r} is not among the currencies"
            )
        return self

    def regime(self, market: str) -> Regime:
        found = self.markets.get(market)
        if found is None:
            raise ConfigError(
                f"settlement market {market!r}: no cost regime (markets: "
                f"{', '.join(sorted(self.markets))})"
            )
        return found

    def currency(self, code: str) -> Currency:
        found = self.currencies.get(code)
        if found is None:
            raise ConfigError(f"currency {code!r}: no overnight rate or FX in the cost regimes")
        return found


@cache
def load_regimes(path: Path = DEFAULT_REGIMES) -> CostRegimes:
    """The regimes of ``path``; a bad file is a ``ConfigError`` naming it, the key and the
    rule."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})") from exc
    try:
        return CostRegimes.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'] if not _union_tag(p)) or '(top)'}: {e['msg']}"
            for e in exc.errors()
        )
        raise ConfigError(f"{path}: {problems}") from None


def _union_tag(part: object) -> bool:
    """pydantic names the member of a tagged union in the location: not a key of the file."""
    return part in ("csdr", "fails_charge", "none") or part == "function-after[_every_category()]"


_CATEGORY = {
    "GOVT_BOND": CsdrCategory.SOVEREIGN_DEBT,
    "CORP_BOND": CsdrCategory.OTHER_DEBT,
    "ETF": CsdrCategory.OTHER_INSTRUMENTS,  # not shares in the Annex's sense
}


def csdr_category(asset_class: str, liquid: bool) -> CsdrCategory:
    """The Annex category of an instrument of failcast's asset classes (none of them is an
    SME growth-market instrument: the contract does not say)."""
    if asset_class == "EQUITY":
        return CsdrCategory.LIQUID_SHARES if liquid else CsdrCategory.ILLIQUID_SHARES
    return _CATEGORY.get(asset_class, CsdrCategory.OTHER_INSTRUMENTS)


@dataclass(frozen=True)
class CostBreakdown:
    """The cost of one fail, in the trade currency, by part."""

    penalty: float
    funding: float
    buy_in: float

    @property
    def total(self) -> float:
        return self.penalty + self.funding + self.buy_in

    def dominant(self) -> str:
        parts = {"penalty": self.penalty, "funding": self.funding, "buy-in": self.buy_in}
        return max(parts, key=lambda k: parts[k])


def price_fail(
    regimes: CostRegimes,
    *,
    market: str,
    currency: str,
    asset_class: str,
    category: CsdrCategory,
    side: str,
    value: float,
    days_late: float,
    lack_of_cash: bool = False,
) -> CostBreakdown:
    """What a fail lasting ``days_late`` business days costs: the market's penalty on the
    value, funding on the cash leg, and the buy-in exposure of a failing delivery (a sale)."""
    regime, money = regimes.regime(market), regimes.currency(currency)
    calendar_days = days_late * CALENDAR_PER_BUSINESS_DAY
    penalty = 0.0
    rule = regime.penalty
    if isinstance(rule, CsdrPenalty):
        if lack_of_cash:  # the central bank's overnight rate, floored at zero, per day
            penalty = value * max(money.overnight_rate, 0.0) / 365 * days_late
        else:
            penalty = value * rule.bps_per_day[category] / 1e4 * days_late
    elif isinstance(rule, FailsCharge) and asset_class in rule.applies_to:
        penalty = value * rule.annual_rate / rule.day_count * calendar_days
    funding = value * money.overnight_rate / money.day_count * calendar_days
    buy_in = 0.0
    if side == "SELL" and days_late > regime.buy_in.after_days:
        buy_in = value * regime.buy_in.probability * regime.buy_in.price_move_bps / 1e4
    return CostBreakdown(penalty, funding, buy_in)
