"""Intraday features against a brute-force recomputation, and what they leave out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.catalogue import INTRADAY
from core.instants import NEVER_US
from features.compute.intraday import IntradayState, step_column
from features.request.dates import local_days

_MIN = 60_000_000
_DAY = 1_440 * _MIN
_START = int(np.datetime64("2024-03-04T00:00", "us").astype(np.int64))


def _trades(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    market = rng.choice(["US", "JP", "DE"], n)
    execution = _START + rng.integers(0, 4 * _DAY, n)
    frame = pd.DataFrame(
        {
            "trade_id": [f"T{i}" for i in range(n)],
            "trade_date": local_days(execution, market),
            "settlement_market": market,
            "counterparty_id": rng.choice(["C1", "C2", "C3"], n),
            "desk_id": rng.choice(["D1", "D2"], n),
            "execution_us": execution,
        }
    )
    for backlog in INTRADAY:
        step = step_column(backlog.step)
        lag = rng.exponential(120 * _MIN, n).astype(np.int64)
        frame[step] = np.where(rng.random(n) < 0.1, NEVER_US, execution + lag)
    return frame


def _brute(trades: pd.DataFrame, query: pd.Series, at: int) -> dict[str, float]:
    today = local_days(np.array([at]), np.array([query["settlement_market"]]))[0]
    out: dict[str, float] = {}
    for b in INTRADAY:
        others = trades[
            (trades[b.key] == query[b.key])
            & (trades["trade_date"] == today)
            & (trades["trade_id"] != query["trade_id"])
            & (trades["execution_us"] <= at)
        ]
        step = others[step_column(b.step)]
        done = (step != NEVER_US) & (step <= at)
        waiting = others.loc[~done]
        share, wait, lag = b.names
        out[share] = len(waiting) / len(others) if len(others) else np.nan
        out[wait] = ((at - waiting["execution_us"]) / _MIN).mean() if len(waiting) else np.nan
        finished = others.loc[done]
        out[lag] = (
            ((finished[step_column(b.step)] - finished["execution_us"]) / _MIN).mean()
            if len(finished)
            else np.nan
        )
    return out


def test_intraday_features_equal_a_brute_force_recomputation() -> None:
    trades = _trades(600)
    state = IntradayState(trades)
    rng = np.random.default_rng(1)
    queries = trades.sample(80, random_state=2).reset_index(drop=True)
    # scored at execution, later the same day, or days later (another "today")
    at = queries["execution_us"].to_numpy() + rng.choice([0, 90 * _MIN, 2 * _DAY], len(queries))
    got = state.features(
        queries["trade_id"].to_numpy(),
        {b.key: queries[b.key].to_numpy() for b in INTRADAY},
        queries["settlement_market"].to_numpy(),
        at,
    )
    for i in range(len(queries)):
        want = _brute(trades, queries.iloc[i], int(at[i]))
        for name, value in want.items():
            assert got[name][i] == pytest.approx(value, abs=1e-6, nan_ok=True), (i, name)


@pytest.mark.parametrize("dict_max", [10_000, 100])
def test_one_trade_at_a_time_gives_the_figures_of_a_batch(
    monkeypatch: pytest.MonkeyPatch, dict_max: int
) -> None:
    # a request's few trades are looked up by dict, a batch's by index, and a table larger
    # than _DICT_MAX by index whatever the lookup's size: all three must agree
    from features.compute import lookup

    monkeypatch.setattr(lookup.Lookup, "_DICT_MAX", dict_max)
    trades = _trades(600)
    state = IntradayState(trades)
    queries = trades.sample(80, random_state=3).reset_index(drop=True)
    at = queries["execution_us"].to_numpy() + 45 * _MIN
    keys = {b.key: queries[b.key].to_numpy() for b in INTRADAY}
    market = queries["settlement_market"].to_numpy()
    batch = state.features(queries["trade_id"].to_numpy(), keys, market, at)
    for i in range(len(queries)):
        one = state.features(
            queries["trade_id"].to_numpy()[i : i + 1],
            {k: v[i : i + 1] for k, v in keys.items()},
            market[i : i + 1],
            at[i : i + 1],
        )
        for name, values in batch.items():
            assert one[name][0] == pytest.approx(values[i], nan_ok=True), (i, name)


def test_a_trade_the_state_does_not_hold_is_measured_against_all_of_its_day() -> None:
    trades = _trades(300)
    state = IntradayState(trades)
    held = trades.iloc[[10]]
    new = held.assign(trade_id="NEW")  # the same trade, not yet stored (scored at execution)
    at = held["execution_us"].to_numpy() + 30 * _MIN
    keys = {b.key: held[b.key].to_numpy() for b in INTRADAY}
    market = held["settlement_market"].to_numpy()
    got = state.features(new["trade_id"].to_numpy(), keys, market, at)
    # trade 10 renamed: the brute force then counts it among "the other trades"
    renamed = trades.assign(trade_id=trades["trade_id"].where(trades.index != 10, "X"))
    for name, value in _brute(renamed, new.iloc[0], int(at[0])).items():
        assert got[name][0] == pytest.approx(value, nan_ok=True), name


def test_nothing_after_the_instant_counts() -> None:
    """Events after the scoring instant change no feature (no look-ahead)."""
    trades = _trades(400)
    at = np.full(50, _START + 2 * _DAY + 14 * 60 * _MIN)
    queries = trades.sample(50, random_state=3)
    args = (
        queries["trade_id"].to_numpy(),
        {b.key: queries[b.key].to_numpy() for b in INTRADAY},
        queries["settlement_market"].to_numpy(),
        at,
    )
    before = IntradayState(trades).features(*args)
    later = trades.copy()
    for b in INTRADAY:  # every step after the instant now happens at once, or never
        step = later[step_column(b.step)]
        later[step_column(b.step)] = np.where(step > at[0], NEVER_US, step)
    after = IntradayState(later).features(*args)
    for name, values in before.items():
        np.testing.assert_allclose(after[name], values, equal_nan=True, err_msg=name)


def test_an_unknown_entity_or_a_day_outside_the_state_has_no_figures() -> None:
    trades = _trades(100)
    state = IntradayState(trades)
    got = state.features(
        np.array(["Z"]),
        {b.key: np.array(["nobody"]) for b in INTRADAY},
        np.array(["US"]),
        np.array([_START + _DAY]),
    )
    assert all(np.isnan(v[0]) for v in got.values())
