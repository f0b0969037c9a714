"""The simulator's strengths as data and the world zoo built from them."""

from __future__ import annotations

import pandas as pd
import pytest
from pydantic import ValidationError

from features.data.simulator import SimulationConfig, simulate
from features.data.simulator.params import Mechanisms
from features.data.simulator.zoo import KNOBS, changed, scaled, zoo
from tests.conftest import SMALL_WORLD


def test_scaling_multiplies_rates_and_raises_multipliers() -> None:
    m = Mechanisms()
    up = scaled(m, "securities", 2.0).model_dump()
    assert up["SHORT_BASE"] == {k: 2 * v for k, v in m.SHORT_BASE.items()}
    assert up["HTB_SHORT_MULT"] == pytest.approx(m.HTB_SHORT_MULT**2)
    calendar = scaled(m, "calendar and timing", 0.5).model_dump()
    assert calendar["MONTH_END_MULT"] == pytest.approx(m.MONTH_END_MULT**0.5)
    assert calendar["H_CASH"] == m.H_CASH  # other mechanisms untouched


def test_scaling_by_zero_switches_a_mechanism_off() -> None:
    off = scaled(Mechanisms(), "calendar and timing", 0.0)
    assert {getattr(off, name) for name, _ in KNOBS["calendar and timing"]} == {1.0}
    assert scaled(Mechanisms(), "cash", 0.0).H_CASH == 0.0


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: scaled(Mechanisms(), "weather", 2.0), KeyError, "unknown mechanism 'weather'"),
        (lambda: scaled(Mechanisms(), "cash", -1.0), ValueError, "factor >= 0; got -1"),
        (lambda: changed(Mechanisms(), {"H_CASHH": 0.1}), ValidationError, "H_CASHH"),
        (lambda: changed(Mechanisms(), {"H_CASH": "lots"}), ValidationError, "H_CASH"),
    ],
)
def test_bad_changes_are_refused_by_name(call, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


def test_the_zoo_varies_the_base_world_one_thing_at_a_time() -> None:
    base = SimulationConfig(days=30, trades_per_day=100)
    worlds = zoo(base)
    names = [w.name for w in worlds]
    assert len(names) == len(set(names))
    assert worlds[0].config == base
    for mechanism in KNOBS:
        assert f"{mechanism} ×0.5" in names and f"{mechanism} ×2" in names
    for w in worlds[1:]:
        assert w.config != base, w.name
        assert (w.config.days, w.config.trades_per_day) == (base.days, base.trades_per_day)


# The mechanisms the default world leaves off: each, switched on, moves what it should and
# leaves the trades themselves as they were (its draws come from a stream of its own).
_ON = {
    "bad days": {"CPTY_BAD_DAY_SHARE": 0.3, "MARKET_BAD_DAY_SHARE": 0.3},
    "scarcity": {"SCARCITY_ENTER": 0.1, "SCARCITY_EXIT": 0.1},
}


@pytest.fixture(scope="module")
def switched_on() -> dict[str, dict[str, pd.DataFrame]]:
    return {
        name: simulate(
            SMALL_WORLD.model_copy(update={"mechanisms": changed(Mechanisms(), changes)})
        )
        for name, changes in _ON.items()
    }


def _failed_for(world: dict[str, pd.DataFrame], reason: str) -> float:
    return float(world["outcomes"]["fail_reason"].eq(reason).mean())


def test_a_mechanism_switched_on_leaves_the_trades_unchanged(
    small_world: dict[str, pd.DataFrame], switched_on: dict[str, dict[str, pd.DataFrame]]
) -> None:
    for world in switched_on.values():
        pd.testing.assert_frame_equal(world["trades"], small_world["trades"])


def test_bad_days_make_late_matching_fails_commoner(
    small_world: dict[str, pd.DataFrame], switched_on: dict[str, dict[str, pd.DataFrame]]
) -> None:
    late = "LATE_MATCHING"
    assert _failed_for(switched_on["bad days"], late) > 1.5 * _failed_for(small_world, late)


def test_scarcity_spells_make_lack_of_securities_commoner(
    small_world: dict[str, pd.DataFrame], switched_on: dict[str, dict[str, pd.DataFrame]]
) -> None:
    short = "LACK_OF_SECURITIES"
    assert _failed_for(switched_on["scarcity"], short) > 1.3 * _failed_for(small_world, short)
