"""A world zoo: worlds that vary the default world's mechanisms, to measure a model on books it
was not built for (``benchmarks/generalisation.py``).

A mechanism is a named group of strengths (``KNOBS``). Scaling it by ``f`` multiplies its
rates by ``f`` (each value of a rate given per asset class or type) and raises its multipliers
to the power ``f``, so ``f = 0`` switches it off (rates 0, multipliers 1), ``f = 2`` doubles
it on both kinds. Beside the scaled worlds: other seeds, the mechanisms the default world
leaves off switched on, and regimes shifted (another mix of business, no T+1 switch, many new
counterparties, stressed markets, everything new at once).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from features.data.simulator.config import SimulationConfig
from features.data.simulator.params import Mechanisms

__all__ = ["KNOBS", "ZooWorld", "changed", "scaled", "zoo"]

Kind = Literal["rate", "mult"]

KNOBS: Mapping[str, tuple[tuple[str, Kind], ...]] = {
    "securities": (("SHORT_BASE", "rate"), ("HTB_SHORT_MULT", "mult")),
    "fail chains": (("EXTERNAL_INCOMING_FAIL", "rate"), ("SHORT_COVERED_BY_INCOMING", "rate")),
    "cash": (("H_CASH", "rate"), ("CASH_STRESS_SIGMA", "rate")),
    "ssi": (
        ("H_SSI_RECENT_UNVERIFIED", "rate"),
        ("H_SSI_RECENT_VERIFIED", "rate"),
        ("H_SSI_UNVERIFIED", "rate"),
        ("H_SSI_STALE", "rate"),
        ("H_SSI_BASE", "rate"),
        ("H_SSI_CHANGE_IN_WINDOW", "rate"),
        ("SSI_CHANGE_RATE", "rate"),
    ),
    "affirmation and matching": (
        ("AFFIRM_MEDIAN_MIN", "rate"),
        ("AFFIRM_NEVER", "rate"),
        ("MATCH_MEDIAN_MIN", "rate"),
    ),
    "counterparty quality": (
        ("CPTY_QUALITY_SIGMA", "rate"),
        ("CPTY_DRIFTING_SHARE", "rate"),
        ("H_COUNTERPARTY", "rate"),
    ),
    "calendar and timing": (
        ("MONTH_END_MULT", "mult"),
        ("QUARTER_END_MULT", "mult"),
        ("HOLIDAY_WINDOW_MULT", "mult"),
        ("EARLY_MORNING_MULT", "mult"),
        ("CROSS_BORDER_MULT", "mult"),
    ),
    "volatility": (("VOL_NOISE", "rate"), ("VOL_SPIKE_PROB", "rate"), ("VOL_SPIKE_SIZE", "rate")),
    "accounts": (("ACCOUNT_SHORT_SIGMA", "rate"),),
}
"""Each mechanism of the default world, the strengths it is made of and how they scale."""

_NO_OFF = {"affirmation and matching"}
"""Mechanisms without an "off": every trade is affirmed and matched after some lag."""


def _scale(value: Any, kind: Kind, factor: float) -> Any:
    if isinstance(value, Mapping):
        return {k: _scale(v, kind, factor) for k, v in value.items()}
    return value * factor if kind == "rate" else value**factor


def scaled(mechanisms: Mechanisms, mechanism: str, factor: float) -> Mechanisms:
    """``mechanisms`` with one mechanism's strengths scaled by ``factor`` (see the module)."""
    if mechanism not in KNOBS:
        raise KeyError(f"unknown mechanism {mechanism!r}; known: {sorted(KNOBS)}")
    if factor < 0:
        raise ValueError(f"a mechanism is scaled by a factor >= 0; got {factor}")
    changes = {
        name: _scale(getattr(mechanisms, name), kind, factor) for name, kind in KNOBS[mechanism]
    }
    return changed(mechanisms, changes)


def changed(mechanisms: Mechanisms, changes: Mapping[str, Any]) -> Mechanisms:
    """``mechanisms`` with ``changes``, validated: an unknown name or a bad value is refused."""
    return Mechanisms.model_validate({**mechanisms.model_dump(), **changes})


@dataclass(frozen=True)
class ZooWorld:
    name: str
    about: str
    config: SimulationConfig


_NEW_MECHANISMS: dict[str, tuple[str, dict[str, Any]]] = {
    "bad days": (
        "5% of counterparty-days, 3% of market-days and desk-days run slow",
        {"CPTY_BAD_DAY_SHARE": 0.05, "MARKET_BAD_DAY_SHARE": 0.03, "DESK_BAD_DAY_SHARE": 0.03},
    ),
    "late hours": (
        "counterparties affirm late-day and off-hours trades up to several times slower",
        {"CPTY_LATE_DAY_SIGMA": 1.5},
    ),
    "scarcity spells": (
        "instruments go through spells of scarcity (about 1 day in 6)",
        {"SCARCITY_ENTER": 0.01},
    ),
    "late-allocating accounts": (
        "some client accounts allocate blocks far later than others",
        {"ACCOUNT_ALLOC_SIGMA": 1.5},
    ),
}


def _regimes(m: Mechanisms) -> dict[str, tuple[str, dict[str, Any], dict[str, Any]]]:
    """name -> (about, changes to the mechanisms, changes to the configuration)."""
    every_new = {k: v for _, changes in _NEW_MECHANISMS.values() for k, v in changes.items()}
    return {
        "bond book": (
            "mostly government and corporate bonds",
            {"TRADE_SHARE": {"EQUITY": 0.2, "ETF": 0.05, "GOVT_BOND": 0.4, "CORP_BOND": 0.35}},
            {},
        ),
        "ETF book": (
            "an ETF market maker's mix",
            {"TRADE_SHARE": {"EQUITY": 0.3, "ETF": 0.5, "GOVT_BOND": 0.1, "CORP_BOND": 0.1}},
            {},
        ),
        "T+2 throughout": ("no T+1 switch in the period", {}, {"t1_switch": None}),
        "new counterparties": (
            "a third of the counterparties onboarded during the period",
            {"CPTY_NEW_SHARE": 0.33},
            {},
        ),
        "stressed markets": (
            "volatility spikes three times as often and twice as large",
            {"VOL_SPIKE_PROB": m.VOL_SPIKE_PROB * 3, "VOL_SPIKE_SIZE": m.VOL_SPIKE_SIZE * 2},
            {},
        ),
        "everything new": (
            "every mechanism the default world leaves off, at once, over half as much SSI risk "
            "and twice the counterparty spread",
            {
                **every_new,
                **scaled(m, "ssi", 0.5).model_dump(include={n for n, _ in KNOBS["ssi"]}),
                "CPTY_QUALITY_SIGMA": m.CPTY_QUALITY_SIGMA * 2,
            },
            {},
        ),
    }


def zoo(base: SimulationConfig, seeds: tuple[int, ...] = (2024, 11)) -> list[ZooWorld]:
    """Every world of the zoo, each ``base`` (size, dates, seed) with one change."""
    m = base.mechanisms

    def world(name: str, about: str, mechanisms: Mechanisms, **config: Any) -> ZooWorld:
        return ZooWorld(name, about, base.model_copy(update={"mechanisms": mechanisms, **config}))

    worlds = [world("default", "the default world", m)]
    worlds += [world(f"seed {s}", "the default world, another draw", m, seed=s) for s in seeds]
    for mechanism in KNOBS:
        for factor, label in ((0.5, "×0.5"), (2.0, "×2"), (0.0, "off")):
            if factor == 0.0 and mechanism in _NO_OFF:
                continue
            worlds.append(
                world(
                    f"{mechanism} {label}",
                    f"{mechanism} scaled by {factor:g}",
                    scaled(m, mechanism, factor),
                )
            )
    for name, (about, changes) in _NEW_MECHANISMS.items():
        worlds.append(world(name, about, changed(m, changes)))
    for name, (about, changes, config) in _regimes(m).items():
        worlds.append(world(name, about, changed(m, changes), **config))
    return worlds
