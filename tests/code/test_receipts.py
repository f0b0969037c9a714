"""Receipt features against a brute-force recomputation, and what they leave out."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from core.catalogue import ReceiptStatus
from core.instants import NEVER_US
from features.compute.receipts import AFFIRMED_US, MATCHED_US, RECEIPT_WINDOW_DAYS, Receipts

_MIN = 60_000_000
_DAY = 1_440 * _MIN
_START = int(np.datetime64("2024-03-04T00:00", "us").astype(np.int64))


def _trades(n: int, instruments: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    execution = _START + rng.integers(0, 10 * _DAY, n)
    isd = (execution // _DAY + rng.integers(1, 4, n)).astype("datetime64[D]")
    end_of_isd = isd.astype("datetime64[us]").astype(np.int64) + _DAY
    affirmed = execution + rng.exponential(300 * _MIN, n).astype(np.int64)
    matched = affirmed + rng.exponential(300 * _MIN, n).astype(np.int64)
    decided = rng.random(n) < 0.9
    return pd.DataFrame(
        {
            "trade_id": [f"T{i}" for i in range(n)],
            "instrument_id": rng.choice([f"I{i}" for i in range(instruments)], n),
            "side": rng.choice(["BUY", "SELL"], n),
            "settlement_date": isd,
            "execution_us": execution,
            AFFIRMED_US: np.where(rng.random(n) < 0.1, NEVER_US, affirmed),
            MATCHED_US: np.where(rng.random(n) < 0.2, NEVER_US, matched),
            "outcome_us": np.where(decided, end_of_isd + rng.integers(0, 120, n) * _MIN, NEVER_US),
            "outcome_failed": decided & (rng.random(n) < 0.3),
        }
    )


def _brute(trades: pd.DataFrame, sell: pd.Series, at: int) -> tuple[float, float]:
    if sell["side"] != "SELL":
        return np.nan, np.nan
    isd = sell["settlement_date"]
    buys = trades[
        (trades["side"] == "BUY")
        & (trades["instrument_id"] == sell["instrument_id"])
        & (trades["execution_us"] < sell["execution_us"])
        & (trades["settlement_date"] <= isd)
        & (trades["settlement_date"] >= isd - np.timedelta64(RECEIPT_WINDOW_DAYS, "D"))
    ]
    if buys.empty:
        return np.nan, np.nan
    buy = buys.sort_values(["settlement_date", "execution_us"]).iloc[-1]
    decided = buy["outcome_us"] != NEVER_US and buy["outcome_us"] <= at
    if decided:
        status = ReceiptStatus.FAILED if buy["outcome_failed"] else ReceiptStatus.SETTLED
    elif buy[MATCHED_US] != NEVER_US and buy[MATCHED_US] <= at:
        status = ReceiptStatus.MATCHED
    elif buy[AFFIRMED_US] != NEVER_US and buy[AFFIRMED_US] <= at:
        status = ReceiptStatus.AFFIRMED
    else:
        status = ReceiptStatus.UNAFFIRMED
    return float(status), float((isd - buy["settlement_date"]) / np.timedelta64(1, "D"))


def _features(receipts: Receipts, queries: pd.DataFrame, at: np.ndarray) -> dict[str, np.ndarray]:
    return receipts.features(
        queries["instrument_id"].to_numpy(),
        queries["side"].to_numpy(),
        queries["settlement_date"].to_numpy(),
        queries["execution_us"].to_numpy(),
        at,
    )


@pytest.mark.parametrize("one_at_a_time", [False, True])
def test_receipts_equal_a_brute_force_recomputation(one_at_a_time: bool) -> None:
    # at most eight buys of an instrument in all: the look-back never runs out
    trades = _trades(120, instruments=40)
    assert trades.loc[trades["side"] == "BUY", "instrument_id"].value_counts().max() <= 8
    receipts = Receipts(trades)
    rng = np.random.default_rng(1)
    # scored at execution, later, or after the buys' outcomes are known
    at = trades["execution_us"].to_numpy() + rng.choice([0, 300 * _MIN, 4 * _DAY], len(trades))
    got = _features(receipts, trades, at)
    if one_at_a_time:
        for i in range(len(trades)):
            one = _features(receipts, trades.iloc[[i]], at[i : i + 1])
            for name in got:
                got[name][i] = one[name][0]
    found = 0
    for i in range(len(trades)):
        status, gap = _brute(trades, trades.iloc[i], int(at[i]))
        assert got["receipt_status"][i] == pytest.approx(status, nan_ok=True), i
        assert got["receipt_days_before_isd"][i] == pytest.approx(gap, nan_ok=True), i
        found += np.isfinite(status)
    # not vacuous: receipts found in every state
    assert found >= 10
    assert set(np.asarray(got["receipt_status"])[np.isfinite(got["receipt_status"])]) == set(
        ReceiptStatus
    )


def test_a_buy_executed_after_the_sell_is_passed_over_for_an_earlier_one() -> None:
    day = np.datetime64("2024-03-06", "D")
    trades = pd.DataFrame(
        {
            "trade_id": ["B1", "B2", "S"],
            "instrument_id": ["I", "I", "I"],
            "side": ["BUY", "BUY", "SELL"],
            "settlement_date": [day - 1, day, day],
            "execution_us": [_START, _START + 3 * _MIN, _START + 2 * _MIN],
            AFFIRMED_US: [_START + _MIN, NEVER_US, NEVER_US],
            MATCHED_US: [_START + _MIN, NEVER_US, NEVER_US],
            "outcome_us": [NEVER_US] * 3,
            "outcome_failed": [False] * 3,
        }
    )
    got = _features(Receipts(trades), trades.iloc[[2]], np.array([_START + 5 * _MIN]))
    # B2 settles later but was executed after the sell: the sell waits on B1
    assert got["receipt_status"][0] == ReceiptStatus.MATCHED
    assert got["receipt_days_before_isd"][0] == 1


def test_nothing_after_the_instant_counts() -> None:
    """A buy's match or outcome after the scoring instant changes nothing (no look-ahead)."""
    trades = _trades(400, instruments=30)
    at = np.full(len(trades), _START + 6 * _DAY)
    before = _features(Receipts(trades), trades, at)
    later = trades.copy()
    for column in (AFFIRMED_US, MATCHED_US, "outcome_us"):
        later[column] = np.where(later[column] > at[0], NEVER_US, later[column])
    later["outcome_failed"] = np.where(
        later["outcome_us"] == NEVER_US, True, later["outcome_failed"]
    )
    after = _features(Receipts(later), trades, at)
    for name, values in before.items():
        np.testing.assert_array_equal(after[name], values, err_msg=name)
    assert np.isfinite(before["receipt_status"]).sum() >= 50


def test_a_buy_an_unknown_instrument_or_an_empty_book_has_no_receipt() -> None:
    trades = _trades(100, instruments=5)
    receipts = Receipts(trades)
    query = trades.iloc[[0]].assign(instrument_id="nobody", side="SELL")
    assert np.isnan(_features(receipts, query, np.array([_START]))["receipt_status"][0])
    buy = trades.loc[trades["side"] == "BUY"].iloc[[0]]
    assert np.isnan(_features(receipts, buy, np.array([_START + 9 * _DAY]))["receipt_status"][0])
    empty = Receipts(trades.iloc[:0])
    sell = trades.loc[trades["side"] == "SELL"].iloc[[0]]
    assert np.isnan(_features(empty, sell, np.array([_START]))["receipt_days_before_isd"][0])
