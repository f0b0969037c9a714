"""Each planted mechanism is visible in the observable tables (what a model can learn from)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.data.contract import Dataset


@pytest.fixture(scope="module")
def frame(calibration_world: Dataset) -> pd.DataFrame:
    d = calibration_world
    f = d["trades"].merge(d["outcomes"][["trade_id", "status", "fail_reason"]], on="trade_id")
    f = f[f["status"] != "CANCELLED"].reset_index(drop=True)
    f["failed"] = f["status"].eq("FAILED")
    f = f.merge(d["counterparties"], on="counterparty_id")
    return f


def _rate(f: pd.DataFrame, mask: pd.Series) -> tuple[float, float]:
    return float(f.loc[mask, "failed"].mean()), float(f.loc[~mask, "failed"].mean())


def test_short_inventory_at_execution_drives_lack_of_securities(
    calibration_world: Dataset, frame: pd.DataFrame
) -> None:
    inv = calibration_world["inventory"].sort_values("as_of_ts")
    sells = frame[frame["side"] == "SELL"].sort_values("execution_ts")
    at_exec = pd.merge_asof(
        sells, inv, left_on="execution_ts", right_on="as_of_ts", by=["account_id", "instrument_id"]
    )
    short = at_exec["available_qty"] + at_exec["incoming_qty"] < at_exec["quantity"]
    sec_fail = at_exec["fail_reason"].eq("LACK_OF_SECURITIES")
    assert sec_fail[short].mean() > 5 * sec_fail[~short].mean()


def test_recently_changed_unverified_ssi_fails_more(
    calibration_world: Dataset, frame: pd.DataFrame
) -> None:
    ssi = calibration_world["ssi"].sort_values("valid_from_ts")
    instruments = calibration_world["instruments"][["instrument_id", "asset_class"]]
    f = frame.merge(instruments, on="instrument_id").sort_values("execution_ts")
    f = pd.merge_asof(
        f,
        ssi,
        left_on="execution_ts",
        right_on="valid_from_ts",
        left_by=["counterparty_id", "settlement_market", "asset_class"],
        right_by=["counterparty_id", "market", "asset_class"],
    )
    recent = (f["execution_ts"] - f["valid_from_ts"]) < pd.Timedelta(days=5)
    unverified = f["verified_ts"].isna() | (f["verified_ts"] > f["execution_ts"])
    risky = recent & unverified
    ssi_fail = f["fail_reason"].eq("SSI_MISMATCH")
    assert risky.sum() > 100
    assert ssi_fail[risky].mean() > 5 * ssi_fail[~risky].mean()


def test_new_counterparties_fail_more(frame: pd.DataFrame) -> None:
    new = (frame["trade_date"] - frame["onboarded_date"]) < pd.Timedelta(days=90)
    inside, outside = _rate(frame, new)
    assert new.sum() > 100 and inside > 1.3 * outside


def test_cross_border_trades_fail_more(frame: pd.DataFrame) -> None:
    inside, outside = _rate(frame, frame["domicile_market"] != frame["settlement_market"])
    assert inside > 1.1 * outside


def test_fails_cluster_by_counterparty_and_persist(frame: pd.DataFrame) -> None:
    """A counterparty's fail rate in the first half predicts the second half (latent quality)."""
    mid = frame["trade_date"].quantile(0.5)
    first = (
        frame[frame["trade_date"] <= mid].groupby("counterparty_id")["failed"].agg(["mean", "size"])
    )
    second = (
        frame[frame["trade_date"] > mid].groupby("counterparty_id")["failed"].agg(["mean", "size"])
    )
    both = first.join(second, lsuffix="_1", rsuffix="_2")
    both = both[(both["size_1"] >= 200) & (both["size_2"] >= 200)]
    assert len(both) >= 20
    assert np.corrcoef(both["mean_1"], both["mean_2"])[0, 1] > 0.5


def test_block_allocations_arrive_later(calibration_world: Dataset, frame: pd.DataFrame) -> None:
    alloc = (
        calibration_world["events"]
        .query("event_type == 'ALLOCATED'")
        .groupby("trade_id")["event_ts"]
        .min()
    )
    lag = (frame["trade_id"].map(alloc) - frame["execution_ts"]).dt.total_seconds()
    assert lag[frame["is_block"]].median() > 5 * lag[~frame["is_block"]].median()


def test_t1_compression_raises_late_matching(frame: pd.DataFrame) -> None:
    us = frame[frame["settlement_market"] == "US"]
    late = us["fail_reason"].eq("LATE_MATCHING")
    t1 = us["settlement_cycle_days"].eq(1)
    assert late[t1].mean() > 1.5 * late[~t1].mean()


def test_executions_close_to_the_cutoff_are_affirmed_late(calibration_world: Dataset) -> None:
    from core.calendar import SettlementCalendar
    from features.data.derive import affirmed_by_cutoff

    d = calibration_world
    trades = d["trades"][d["trades"]["settlement_cycle_days"] == 1]
    affirmed = affirmed_by_cutoff(SettlementCalendar(d["holidays"]), trades, d["events"])
    cutoff = SettlementCalendar(d["holidays"]).affirmation_cutoff(
        trades["settlement_date"].to_numpy("datetime64[D]"), trades["settlement_market"].to_numpy()
    )
    minutes = (
        cutoff - trades["execution_ts"].dt.tz_localize(None).to_numpy("datetime64[us]")
    ) / np.timedelta64(1, "m")
    close = minutes < 180
    assert close.sum() > 100
    assert (1 - affirmed[close].mean()) > 2 * (1 - affirmed[~close].mean())
