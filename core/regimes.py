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
from typing import Annotated, Literal, get_args

import numpy as np
import yaml
from numpy.typing import ArrayLike
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from core.errors import ConfigError
from core.markets import MARKETS
from core.settings import get_settings
from core.vocabulary import Currency as CurrencyCode

__all__ = [
    "DEFAULT_REGIMES",
    "PARTS",
    "CostBreakdown",
    "CostParts",
    "CostRegimes",
    "CsdrCategory",
    "active_regimes",
    "cost_driver",
    "csdr_categories",
    "csdr_category",
    "load_regimes",
    "parts_text",
    "price_fail",
    "price_fails",
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
    def _everything_priced(self) -> CostRegimes:
        if self.reporting_currency not in self.currencies:
            raise ValueError(
                f"reporting_currency {self.reporting_currency!r} is not among the currencies"
            )
        missing = sorted(set(MARKETS) - set(self.markets))
        if missing:
            raise ValueError(f"markets: no regime for the settlement markets {', '.join(missing)}")
        money = sorted(set(get_args(CurrencyCode)) - set(self.currencies))
        if money:
            raise ValueError(f"currencies: no entry for {', '.join(money)}")
        return self

    def in_reporting_currency(self, amount: ArrayLike, currency: ArrayLike) -> np.ndarray:
        """Amounts in their currencies, in the reporting currency (NaN for an unknown one):
        indicative rates, to rank across currencies, not to book anything."""
        codes = np.atleast_1d(np.asarray(currency, dtype=object))
        per_unit = self.currencies
        rates = np.array([per_unit[c].usd_per_unit if c in per_unit else np.nan for c in codes])
        converted: np.ndarray = np.asarray(amount, dtype=float) * (
            rates if np.ndim(currency) else rates[0]
        )
        return converted

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


def active_regimes() -> CostRegimes:
    """The regimes in force: ``FAILCAST_COST_REGIMES``'s file, or the one failcast ships."""
    return load_regimes(get_settings().cost_regimes or DEFAULT_REGIMES)


def _union_tag(part: object) -> bool:
    """pydantic names the member of a tagged union in the location: not a key of the file."""
    return part in ("csdr", "fails_charge", "none") or part == "function-after[_every_category()]"


_BY_CLASS = {
    "GOVT_BOND": CsdrCategory.SOVEREIGN_DEBT.value,
    "CORP_BOND": CsdrCategory.OTHER_DEBT.value,
    "ETF": CsdrCategory.OTHER_INSTRUMENTS.value,  # an ETF is not a share in the Annex's sense
}


def _category(asset_class: object, liquid: bool) -> str:
    if not isinstance(asset_class, str):
        return ""
    if asset_class == "EQUITY":
        return (CsdrCategory.LIQUID_SHARES if liquid else CsdrCategory.ILLIQUID_SHARES).value
    return _BY_CLASS.get(asset_class, CsdrCategory.OTHER_INSTRUMENTS.value)


def csdr_categories(asset_class: ArrayLike, liquid: ArrayLike) -> np.ndarray:
    """The Annex category of each instrument of failcast's asset classes (none is an SME
    growth-market instrument: the contract does not say); "" for one of unknown class."""
    classes: list[object] = np.asarray(asset_class, dtype=object).tolist()
    flags: list[bool] = np.asarray(liquid, dtype=bool).tolist()
    return np.array([_category(a, q) for a, q in zip(classes, flags, strict=True)], dtype=object)


def csdr_category(asset_class: str, liquid: bool) -> CsdrCategory:
    """One instrument's Annex category (``csdr_categories``)."""
    return CsdrCategory(str(csdr_categories([asset_class], [liquid])[0]))


PARTS = ("penalty", "funding", "buy-in")
"""A fail's cost, part by part, as the queue and the reasons name them."""


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
        """The name of the largest part (``PARTS``)."""
        parts = dict(zip(PARTS, (self.penalty, self.funding, self.buy_in), strict=True))
        return max(parts, key=lambda k: parts[k])


@dataclass(frozen=True)
class CostParts:
    """The cost of each of a batch of fails, in its trade's currency, by part."""

    penalty: np.ndarray
    funding: np.ndarray
    buy_in: np.ndarray

    @property
    def total(self) -> np.ndarray:
        total: np.ndarray = self.penalty + self.funding + self.buy_in
        return total

    def scaled(self, factor: np.ndarray) -> CostParts:
        """Each part times ``factor`` (a fail probability: the expected parts)."""
        return CostParts(self.penalty * factor, self.funding * factor, self.buy_in * factor)


def parts_text(penalty: float, funding: float, buy_in: float) -> str:
    """A cost's parts as a queue shows them: "penalty 20 · funding 1,200" (parts under one
    unit left out)."""
    parts = zip(PARTS, (penalty, funding, buy_in), strict=True)
    shown = [f"{name} {amount:,.0f}" for name, amount in parts if amount >= 0.5]
    return " · ".join(shown) or "—"


def cost_driver(penalty: float, funding: float, buy_in: float, currency: str) -> str:
    """Which part dominates a cost, as an analyst reads it: "funding: 1,200 USD of 1,450"."""
    parts = dict(zip(PARTS, (penalty, funding, buy_in), strict=True))
    total = penalty + funding + buy_in
    if total <= 0:
        return "no cost: no penalty, funding or buy-in applies"
    name = max(parts, key=lambda k: parts[k])
    return f"{name}: {parts[name]:,.0f} {currency} of {total:,.0f}"


def price_fails(
    regimes: CostRegimes,
    *,
    market: ArrayLike,
    currency: ArrayLike,
    asset_class: ArrayLike,
    liquid: ArrayLike,
    side: ArrayLike,
    value: ArrayLike,
    days_late: ArrayLike,
    lack_of_cash: ArrayLike,
) -> CostParts:
    """What each fail lasting ``days_late`` business days costs: its market's penalty on the
    value, funding on the cash leg, and the buy-in exposure of a failing delivery (a sale).
    Every part is proportional to the value: the cost of one unit is priced once per kind of
    fail (``_unit_cost``), then scaled."""
    keys = zip(
        np.asarray(market, dtype=object).tolist(),
        np.asarray(currency, dtype=object).tolist(),
        [a if isinstance(a, str) else None for a in np.asarray(asset_class, dtype=object)],
        np.asarray(liquid, dtype=bool).tolist(),
        (np.asarray(side, dtype=object) == "SELL").tolist(),
        np.asarray(days_late, dtype=float).tolist(),
        np.asarray(lack_of_cash, dtype=bool).tolist(),
        strict=True,
    )
    memo = _UNIT_COSTS.setdefault(id(regimes), (regimes, {}))[1]
    units = []
    for key in keys:
        unit = memo.get(key)
        if unit is None:
            unit = memo[key] = _unit_cost(regimes, *key)
        units.append(unit)
    value = np.asarray(value, dtype=float)
    rates = np.array(units, dtype=float).reshape(len(value), 3)
    return CostParts(value * rates[:, 0], value * rates[:, 1], value * rates[:, 2])


_UnitKey = tuple[str, str, str | None, bool, bool, float, bool]
_UNIT_COSTS: dict[int, tuple[CostRegimes, dict[_UnitKey, tuple[float, float, float]]]] = {}
"""Per regimes object (kept alive beside its memo): the unit cost of each kind of fail."""


def _unit_cost(
    regimes: CostRegimes,
    market: str,
    currency: str,
    asset_class: str | None,
    liquid: bool,
    selling: bool,
    days: float,
    lack_of_cash: bool,
) -> tuple[float, float, float]:
    """Penalty, funding and buy-in of a fail of one unit of value. An instrument of unknown
    class (None) pays its market's highest penalty."""
    regime, money = regimes.regime(market), regimes.currency(currency)
    calendar_days = days * CALENDAR_PER_BUSINESS_DAY
    rule = regime.penalty
    penalty = 0.0
    if isinstance(rule, CsdrPenalty):
        if lack_of_cash:  # the central bank's overnight rate, floored at zero, per day
            penalty = max(money.overnight_rate, 0.0) / 365 * days
        else:
            category = _category(asset_class, liquid)
            bps = rule.bps_per_day.get(CsdrCategory(category)) if category else None
            penalty = (bps if bps is not None else max(rule.bps_per_day.values())) / 1e4 * days
    elif isinstance(rule, FailsCharge) and (asset_class is None or asset_class in rule.applies_to):
        penalty = rule.annual_rate / rule.day_count * calendar_days
    funding = money.overnight_rate / money.day_count * calendar_days
    buy_in = 0.0
    if selling and days > regime.buy_in.after_days:
        buy_in = regime.buy_in.probability * regime.buy_in.price_move_bps / 1e4
    return penalty, funding, buy_in


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
    """One fail's cost (``price_fails`` of one row; ``category`` stands for the liquidity)."""
    liquid = category is not CsdrCategory.ILLIQUID_SHARES
    parts = price_fails(
        regimes,
        market=[market],
        currency=[currency],
        asset_class=[asset_class],
        liquid=[liquid],
        side=[side],
        value=[value],
        days_late=[days_late],
        lack_of_cash=[lack_of_cash],
    )
    return CostBreakdown(float(parts.penalty[0]), float(parts.funding[0]), float(parts.buy_in[0]))
