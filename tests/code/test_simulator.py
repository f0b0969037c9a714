"""The simulator: deterministic, contract-valid, configurable, seeded from real SEC data."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from pydantic import ValidationError

from features.data.contract import Dataset, validate_frames
from features.data.simulator import SimulationConfig, simulate
from features.data.sources.sec_ftd import read_sec_ftd
from tests.conftest import SMALL_WORLD


def test_same_seed_gives_the_same_world(small_world: Dataset) -> None:
    again = simulate(SMALL_WORLD)
    for name, frame in small_world.items():
        pd.testing.assert_frame_equal(frame, again[name], check_exact=True, obj=name)


def test_another_seed_gives_another_world(small_world: Dataset) -> None:
    other = simulate(SMALL_WORLD.model_copy(update={"seed": SMALL_WORLD.seed + 1}))
    assert not other["outcomes"]["status"].equals(small_world["outcomes"]["status"])


def test_world_is_contract_valid_with_every_table(small_world: Dataset) -> None:
    validate_frames(small_world)
    assert set(small_world) == {
        "instruments",
        "counterparties",
        "trades",
        "events",
        "ssi",
        "inventory",
        "holidays",
        "outcomes",
        "truth",
    }


def test_trades_follow_market_conventions(small_world: Dataset) -> None:
    trades = small_world["trades"]
    assert trades["execution_ts"].is_monotonic_increasing
    assert (trades["settlement_date"] > trades["trade_date"]).all()
    assert trades["settlement_cycle_days"].isin([1, 2, 3]).all()


def test_t1_switch_moves_us_equities_to_t_plus_1() -> None:
    config = SimulationConfig(
        days=20,
        trades_per_day=300,
        n_counterparties=50,
        n_instruments=200,
        replicas=2,
        start=dt.date(2024, 5, 14),
        t1_switch=dt.date(2024, 5, 28),
    )
    data = simulate(config)
    trades = data["trades"].merge(
        data["instruments"][["instrument_id", "asset_class"]], on="instrument_id"
    )
    us_eq = trades[(trades["settlement_market"] == "US") & (trades["asset_class"] == "EQUITY")]
    before = us_eq[us_eq["trade_date"] < "2024-05-28"]["settlement_cycle_days"]
    after = us_eq[us_eq["trade_date"] >= "2024-05-28"]["settlement_cycle_days"]
    assert before.min() >= 2 and after.mode()[0] == 1
    gb = trades[trades["settlement_market"] == "GB"]["settlement_cycle_days"]
    assert gb.mode()[0] == 2


def test_events_respect_the_lifecycle_order(small_world: Dataset) -> None:
    events = small_world["events"]
    first = events.pivot_table(
        index="trade_id", columns="event_type", values="event_ts", aggfunc="min"
    )
    both = first[["ALLOCATED", "CONFIRMED"]].dropna()
    assert (both["ALLOCATED"] <= both["CONFIRMED"]).all()
    aff = first[["CONFIRMED", "AFFIRMED"]].dropna()
    assert (aff["CONFIRMED"] <= aff["AFFIRMED"]).all()
    cancelled = small_world["outcomes"].query("status == 'CANCELLED'")["trade_id"]
    last = events.groupby("trade_id")["event_type"].last()
    assert (last[cancelled] == "CANCELLED").all()


def test_truth_probabilities_are_consistent(small_world: Dataset) -> None:
    truth = small_world["truth"]
    assert truth["p_fail_final"].between(0, 1).all()
    assert truth["p_fail_at_execution"].between(0, 1).all()
    # The oracle at execution averages the final probability: their means agree.
    assert truth["p_fail_at_execution"].mean() == pytest.approx(
        truth["p_fail_final"].mean(), rel=0.1
    )


def test_sec_files_seed_the_us_equity_universe(sec_dir: Path) -> None:
    config = SMALL_WORLD.model_copy(update={"sec_ftd_dir": sec_dir})
    data = simulate(config)
    instruments = data["instruments"]
    us = instruments[
        (instruments["market"] == "US") & instruments["asset_class"].isin(["EQUITY", "ETF"])
    ]
    sec = read_sec_ftd(sec_dir).groupby("cusip").last()
    cusip = us["instrument_id"].str[2:11]
    assert cusip.isin(sec.index).all()
    assert (us["symbol"].to_numpy() == sec.loc[cusip, "symbol"].to_numpy()).all()
    assert np.allclose(us["reference_price"].to_numpy(), sec.loc[cusip, "price"].to_numpy())
    validate_frames(data)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("days", 0, "days"),
        ("trades_per_day", -1, "trades_per_day"),
        ("start", dt.date(2024, 1, 6), "start must be a weekday"),
        ("replicas", 1, "replicas"),
    ],
)
def test_bad_configuration_names_the_field(field: str, value: object, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SimulationConfig(**{field: value})


def test_replicas_reduce_oracle_noise_not_its_level() -> None:
    base = SMALL_WORLD.model_copy(update={"replicas": 4})
    more = SMALL_WORLD.model_copy(update={"replicas": 64})
    a, b = simulate(base)["truth"], simulate(more)["truth"]
    assert np.isclose(a["p_fail_at_execution"].mean(), b["p_fail_at_execution"].mean(), rtol=0.1)
    pd.testing.assert_series_equal(a["p_fail_final"], b["p_fail_final"])
