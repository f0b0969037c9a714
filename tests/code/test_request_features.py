"""Request-time transforms on single trades and batches, including cold starts."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from features.request import (
    CONTEXT_FEATURES,
    LIFECYCLE_FEATURES,
    context_features,
    lifecycle_features,
)
from features.retrieval import OnlineRetriever
from tests.conftest import FeatureBuild

DAY_S = 86_400.0


def _inputs(**overrides: object) -> dict[str, list]:
    base = {
        "req_execution_s": 1_700_000_000.0,
        "req_scoring_s": 1_700_000_000.0 + 3_600,
        "req_cutoff_s": 1_700_000_000.0 + 7_200,
        "req_exec_local_minutes": 600.0,
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
    assert list(out) == [s.name for s in CONTEXT_FEATURES]
    assert out["minutes_to_cutoff_at_execution"] == [120.0]
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
    assert out["minutes_to_cutoff_at_execution"] == [120.0]


def test_lifecycle_features_as_of_the_scoring_instant() -> None:
    out = lifecycle_features(_inputs())
    assert list(out) == [s.name for s in LIFECYCLE_FEATURES]
    assert (out["allocated"], out["affirmed"], out["affirmed_late"]) == ([1], [0], [0])
    late = lifecycle_features(_inputs(req_scoring_s=1_700_000_000.0 + 10_000))
    assert late["affirmed_late"] == [1]  # still unaffirmed past the cutoff
    future = lifecycle_features(_inputs(req_allocated_s=1_700_000_000.0 + 99_999))
    assert future["allocated"] == [0]  # an event after the scoring instant does not count


def test_batch_and_single_trade_agree() -> None:
    one = _inputs()
    batch = {k: v * 3 for k, v in one.items()}
    batch["req_is_sell"] = [1, 0, 1]
    out = context_features(batch)
    assert out["inventory_coverage"][0] == context_features(one)["inventory_coverage"][0]
    assert math.isnan(out["inventory_coverage"][1])  # buys have no delivery to cover


def test_unknown_counterparty_and_instrument_are_scored_cold(small_build: FeatureBuild) -> None:
    from features.contract import read_dataset

    trade = read_dataset(small_build.data_dir, ["trades", "instruments", "counterparties"])[
        "trades"
    ]
    trade = trade.tail(1).assign(counterparty_id="CP-NEW", instrument_id="XS9999999999")
    retriever = OnlineRetriever(small_build.store, small_build.reference)
    horizon = int(small_build.reference.manifest["horizon_us"])
    got = retriever(trade, np.full(1, horizon)).iloc[0]
    assert pd.isna(got["cpty_fail_rate_30d"]) and pd.isna(got["asset_class_code"])
    assert not pd.isna(got["market_fail_rate_7d"])  # what is known about the market still is
    assert got["minutes_to_cutoff_at_execution"] == pytest.approx(
        got["minutes_to_cutoff"] + got["minutes_since_execution"]
    )
