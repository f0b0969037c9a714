"""What the catalogue says of a feature, and how its values read to an analyst."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np

from core.actions import ReasonCode

__all__ = [
    "NO_HISTORY",
    "Dtype",
    "Family",
    "Feature",
    "Format",
    "count",
    "cutoff",
    "cycle",
    "days_ago",
    "epoch_day",
    "epoch_seconds",
    "minutes",
    "named",
    "pct",
    "plain",
    "power_of_ten",
    "ratio",
    "yes_no",
]

Dtype = Literal["float", "int"]
Format = Callable[[float], str]
NO_HISTORY = "no history yet"


class Family(StrEnum):
    """What a feature is about: the unit in which features are added, tested and removed."""

    COUNTERPARTY = "counterparty"
    INSTRUMENT = "instrument"
    ACCOUNT = "account"
    SSI = "standing settlement instruction"
    INVENTORY = "inventory"
    RECEIPT = "incoming receipt"
    CALENDAR = "settlement calendar"
    TRADE = "trade"
    LIFECYCLE = "lifecycle stage"
    INTRADAY = "today's operations"
    REQUEST = "request"  # sent with each trade; inputs of the on-demand views, not features


@dataclass(frozen=True)
class Feature:
    """One field of the feature store, declared once.

    ``view`` is the Feast feature view that stores it, the on-demand view that computes it, or
    the request source that carries it. A field with a ``reason`` is a model feature: the
    reason code says what to do when it raises the risk, ``label`` and ``fmt`` how an analyst
    reads it, ``missing`` what a missing value means. A field without one is an input the
    on-demand views read.
    """

    name: str
    dtype: Dtype
    description: str
    view: str
    family: Family
    reason: ReasonCode | None = None
    label: str = ""
    fmt: Format | None = None
    missing: str = NO_HISTORY

    @property
    def is_model_feature(self) -> bool:
        return self.reason is not None

    def shown(self, value: float | None) -> str:
        """The value as an analyst reads it (``missing`` when there is none)."""
        if value is None or not np.isfinite(value):
            return self.missing
        return (self.fmt or plain)(value)

    def phrase(self, value: float | None) -> str:
        """'label: value', the way a reason reads."""
        return f"{self.label or self.name}: {self.shown(value)}"


pct: Format = "{:.1%}".format
count: Format = "{:,.0f}".format
plain: Format = "{:,.4g}".format
days_ago: Format = "{:,.0f} days ago".format
minutes: Format = "{:,.0f} minutes".format
ratio: Format = "{:.1f}x".format
cycle: Format = "T+{:.0f}".format


def cutoff(v: float) -> str:
    return f"in {v:,.0f} minutes" if v >= 0 else f"passed {-v:,.0f} minutes ago"


def yes_no(yes: str = "yes", no: str = "no") -> Format:
    return lambda v: yes if v >= 0.5 else no


def named(names: Sequence[str]) -> Format:
    """A category code as the name at that index of the vocabulary."""
    return lambda v: names[int(v)] if 0 <= int(v) < len(names) else "unknown"


def power_of_ten(v: float) -> str:
    """A log10 value as the number it stands for."""
    return f"{10**v:,.0f}"


def epoch_day(v: float) -> str:
    return str(dt.date(1970, 1, 1) + dt.timedelta(days=int(v)))


def epoch_seconds(v: float) -> str:
    return dt.datetime.fromtimestamp(v, dt.UTC).strftime("%Y-%m-%d %H:%M UTC")
