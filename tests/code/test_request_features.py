"""Request-time transforms on single trades and batches, including cold starts."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from core.catalogue import CONTEXT_VIEW, INTRADAY_VIEW, LIFECYCLE_VIEW, of_view
from features.request import context_features, intraday_features, lifecycle_features
from features.retrieval import OnlineRetriever
from tests.conftest import FeatureBuild

DAY_S = 86_400.0


def _inputs(**overrides: object) -> dict[str, list[object]]:
    base: dict[str, object] = {
        "req_execution_s": 1_700_000_000.0,
        "req_scoring_s": 1_700_000_000.0 + 3_600,
        "req_cutoff_s": 1_700_000_000.0 + 7_200,
        "req_isd_start_s": 1_700_000_000.0 + 7_200 + 3 * 3_600,
        "req_exec_day": 19_675,
        "req_settlement_cycle_days": 1,
        "req_quantity": 1_000.0,
        "req_notional": 50_000.0,
        "req_is_sell": 1,
        "req_is_block": 0,
        "req_holiday_in_window": 0,
        "req_period_end": 1,
        "req_quarter_end": 0,
        "req_settlement_market_code": 0,
        "req_allocated_s": 1_700_000_000.0 + 60,
        "req_confirmed_s": None,
        "req_affirmed_s": None,
        "req_instructed_s": None,
        "req_matched_s": None,
        "req_amendments": 0,
        "cpty_mean_notional_90d": 100_000.0,
        "cpty_domicile_code": 2,
        "cpty_onboarded_day": 19_000,
        "avg_daily_volume": 10_000.0,
        "issue_day": 19_600,
        "ssi_valid_from_s": 1_700_000_000.0 - 2 * DAY_S,
        "ssi_verified_s": None,
        "ssi_prev_valid_from_s": 1_700_000_000.0 - 400 * DAY_S,
        "available_qty": 300.0,
        "incoming_qty": 200.0,
    }
    base.update(overrides)
    return {k: [v] for k, v in base.items()}


def test_context_features_read_like_an_analyst_would() -> None:
    out = context_features(_inputs())
    assert list(out) == [f.name for f in of_view(CONTEXT_VIEW)]
    assert out["cpty_days_since_onboarding"] == [675]
    assert out["inventory_coverage"] == [0.5]  # half the quantity is there or on its way
    assert out["size_vs_adv"] == [0.1]
    assert out["notional_vs_cpty_mean"] == [0.5]
    assert out["cross_border"] == [1.0]
    assert out["ssi_unverified"] == [1.0]
    assert out["ssi_changes_90d"] == [1.0]
    assert out["instrument_age_days"] == [75.0]
    assert out["period_end"] == [1]


def test_cold_start_inputs_give_missing_values_not_errors() -> None:
    unknown = dict.fromkeys(
        [
            "cpty_mean_notional_90d",
            "cpty_domicile_code",
            "cpty_onboarded_day",
            "avg_daily_volume",
            "issue_day",
            "ssi_valid_from_s",
            "ssi_prev_valid_from_s",
            "available_qty",
            "incoming_qty",
        ]
    )
    out = context_features(_inputs(**unknown))
    for name in ("cross_border", "size_vs_adv", "ssi_unverified", "inventory_coverage"):
        assert math.isnan(out[name][0]), name
    assert out["log_notional"] == [pytest.approx(math.log10(50_000.0))]


def test_lifecycle_features_as_of_the_scoring_instant() -> None:
    out = lifecycle_features(_inputs())
    assert list(out) == [f.name for f in of_view(LIFECYCLE_VIEW)]
    assert (out["allocated"], out["affirmed"], out["affirmed_late"]) == ([1], [0], [0])
    late = lifecycle_features(_inputs(req_scoring_s=1_700_000_000.0 + 10_000))
    assert late["affirmed_late"] == [1]  # still unaffirmed past the cutoff
    future = lifecycle_features(_inputs(req_allocated_s=1_700_000_000.0 + 99_999))
    assert future["allocated"] == [0]  # an event after the scoring instant does not count
    assert out["minutes_to_isd"] == [240.0]  # an hour to the cutoff, three more to the ISD
    assert math.isnan(out["minutes_waiting_to_match"][0])  # not instructed yet
    instructed = {"req_instructed_s": 1_700_000_000.0 + 600}
    waiting = lifecycle_features(_inputs(**instructed))
    assert waiting["minutes_waiting_to_match"] == [50.0]
    matched = lifecycle_features(_inputs(**instructed, req_matched_s=1_700_000_000.0 + 900))
    assert math.isnan(matched["minutes_waiting_to_match"][0])


def test_batch_and_single_trade_agree() -> None:
    one = _inputs()
    batch = {k: v * 3 for k, v in one.items()}
    batch["req_is_sell"] = [1, 0, 1]
    out = context_features(batch)
    assert out["inventory_coverage"][0] == context_features(one)["inventory_coverage"][0]
    assert math.isnan(out["inventory_coverage"][1])  # buys have no delivery to cover


@pytest.mark.parametrize("transform", [context_features, lifecycle_features, intraday_features])
def test_arrays_in_give_the_lists_values_as_arrays(transform: Any) -> None:
    """Feast's python mode passes lists and gets lists; failcast's own batches (training's
    millions of rows) pass arrays and get arrays of the same values and types."""
    batch = {k: v * 3 for k, v in _inputs().items()}
    batch["req_is_sell"] = [1, 0, 1]
    batch |= {f"req_{f.name}": [0.25, None, 1.0] for f in of_view(INTRADAY_VIEW)}
    lists = transform(batch)
    arrays = transform({k: np.asarray(v, dtype=np.float64) for k, v in batch.items()})
    assert list(arrays) == list(lists)
    for name, column in arrays.items():
        assert isinstance(column, np.ndarray) and isinstance(lists[name], list), name
        expected = np.asarray(lists[name])
        assert column.dtype == expected.dtype, name
        np.testing.assert_array_equal(column, expected, err_msg=name)


def test_unknown_counterparty_and_instrument_are_scored_cold(small_build: FeatureBuild) -> None:
    from features.data.contract import read_dataset

    trade = read_dataset(small_build.data_dir, ["trades", "instruments", "counterparties"])[
        "trades"
    ]
    trade = trade.tail(1).assign(counterparty_id="CP-NEW", instrument_id="XS9999999999")
    retriever = OnlineRetriever(small_build.store, small_build.reference)
    horizon = int(small_build.reference.manifest["horizon_us"])
    got = retriever(trade, np.full(1, horizon)).iloc[0]
    assert pd.isna(got["cpty_fail_rate_30d"]) and pd.isna(got["asset_class_code"])
    assert got["settlement_cycle_days"] >= 1  # what the trade itself says is known all the same
    assert got["minutes_to_isd"] > got["minutes_to_cutoff"]  # the cutoff comes before the ISD


def test_local_dates_match_the_time_zone_database() -> None:
    """One UTC offset per (market, UTC hour) gives the local date a full tz conversion gives,
    a minute either side of every local midnight of a year with both DST switches, in every
    market, for one instant at a time and for many."""
    from core.markets import MARKETS
    from features.request import local_days

    for code, market in MARKETS.items():
        midnights = pd.date_range("2024-01-01", "2024-12-31", freq="D", tz=market.tz)
        at = midnights.to_numpy(dtype="datetime64[us]").astype(np.int64)  # UTC instants
        instants = np.concatenate([at - 60_000_000, at + 60_000_000])
        dates = np.asarray(midnights.date, dtype="datetime64[D]")
        want = np.concatenate([dates - 1, dates])  # the day before each midnight, then its day
        got = local_days(instants, np.full(instants.size, code, dtype=object))
        np.testing.assert_array_equal(got, want, err_msg=code)
        one = local_days(instants[:1], np.array([code], dtype=object))
        assert one[0] == want[0], code


def test_date_facts_remember_without_changing_anything(small_build: FeatureBuild) -> None:
    """Facts served from the memo equal facts computed afresh, one trade or many."""
    from core.stages import stage_instants
    from features.data.contract import read_dataset
    from features.request import DateFacts

    calendar = small_build.reference.calendar
    trades = read_dataset(small_build.data_dir)["trades"].head(500)
    args = [
        trades[c].to_numpy()
        for c in ("trade_date", "settlement_date", "settlement_market", "settlement_market")
    ]
    fresh = DateFacts(calendar)(*args)
    memo = DateFacts(calendar)
    memo(*(a[:50] for a in args))  # remember part of them first
    for name, values in memo(*args).items():
        np.testing.assert_array_equal(values, fresh[name], err_msg=name)
    one = memo(*(a[[7]] for a in args))
    assert {k: v[0] for k, v in one.items()} == {k: v[7] for k, v in fresh.items()}
    assert np.array_equal(
        np.maximum(fresh["start_CUTOFF"], stage_instants(trades, calendar, "EXECUTION")),
        stage_instants(trades, calendar, "CUTOFF"),
    )


def test_lifecycle_state_equals_a_brute_force_reading_of_the_events(small_world) -> None:
    from core.instants import instants_us
    from core.lifecycle import AMENDMENTS, STEPS
    from features.request import lifecycle_state

    events = small_world["events"]
    amended = events.loc[events["event_type"] == "AMENDED", "trade_id"].unique()
    everyone = small_world["trades"]
    trades = pd.concat([everyone.head(150), everyone.loc[everyone["trade_id"].isin(amended[:30])]])
    trades = trades.drop_duplicates("trade_id").reset_index(drop=True)
    rng = np.random.default_rng(4)
    at = instants_us(trades["execution_ts"]) + rng.integers(0, 3 * 86_400_000_000, len(trades))
    got = lifecycle_state(trades["trade_id"], events, at)
    for i, (row, trade) in enumerate(trades.iterrows()):
        mine = events.loc[events["trade_id"] == trade["trade_id"]]
        seen = mine.loc[instants_us(mine["event_ts"]) <= at[i]]
        for step in STEPS:
            first = seen.loc[seen["event_type"] == step.event, "event_ts"]
            want = np.nan if first.empty else instants_us(first).min() / 1e6
            assert got.at[row, step.request] == pytest.approx(want, nan_ok=True)
        count = int((seen["event_type"] == AMENDMENTS.event).sum())
        assert got.at[row, AMENDMENTS.request] == count
    assert got[AMENDMENTS.request].max() >= 1  # amendments were counted, not only zeros
