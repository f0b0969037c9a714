"""Reasons read like an analyst's note; the cost model prices a fail as the design says."""

from __future__ import annotations

import numpy as np
import pytest

from core.actions import ACTIONS, ReasonCode
from core.catalogue import FEATURES
from core.costs import DEFAULT_PENALTIES, CostModel, expected_days_late
from serving.scoring.reasons import top_reasons


@pytest.mark.parametrize(
    ("feature", "value", "text"),
    [
        ("cpty_fail_rate_30d", 0.123, "Counterparty fail rate, 30 days: 12.3%"),
        ("affirmed", 0.0, "Affirmed: not yet"),
        ("minutes_to_cutoff", -35.0, "Affirmation cutoff: passed 35 minutes ago"),
        ("inventory_coverage", 0.4, "Position plus incoming receipts cover: 40.0%"),
        ("ssi_age_days", 3.0, "SSI in force changed: 3 days ago"),
        ("asset_class_code", 0.0, "Asset class: EQUITY"),
        ("cpty_days_since_onboarding", None, "Counterparty onboarded: unknown counterparty"),
        ("ssi_days_since_verified", float("nan"), "SSI last verified: never"),
    ],
)
def test_reasons_read_as_sentences(feature: str, value: float | None, text: str) -> None:
    assert FEATURES[feature].phrase(value) == text


def test_only_risk_raising_features_become_reasons_strongest_first() -> None:
    features = ["affirmed", "ssi_age_days", "matched", "cpty_fail_rate_30d"]
    values = np.array([0.0, 2.0, np.nan, 0.2])
    contributions = np.array([0.9, -0.5, 0.0, 1.4, -3.0])  # last: base value
    got = top_reasons(features, values, contributions, limit=5)
    assert [r.feature for r in got] == ["cpty_fail_rate_30d", "affirmed"]
    assert got[1].code == "AFFIRMATION_PENDING"
    assert got[1].team == ACTIONS[ReasonCode.AFFIRMATION].team.value
    assert top_reasons(features, values, contributions, limit=1)[0].value == 0.2


def test_expected_cost_is_probability_times_notional_rate_and_days() -> None:
    days = expected_days_late(
        np.array(["EQUITY", "EQUITY", "GOVT_BOND"]), np.array([1.0, 3.0, 5.0])
    )
    assert days == {"ALL": 3.0, "EQUITY": 2.0, "GOVT_BOND": 5.0}
    costs = CostModel(days_late=days)
    cost = costs.expected_cost(
        probability=np.array([0.5, 0.5, 0.5, 0.5]),
        notional=np.array([1e6, 1e6, 1e6, 1e6]),
        asset_class=np.array(["EQUITY", "EQUITY", "CORP_BOND", ""], dtype=object),
        adv=np.array([1e6, 1e3, 1e6, np.nan]),
    )
    liquid, thin = DEFAULT_PENALTIES.liquid_bps["EQUITY"], DEFAULT_PENALTIES.illiquid_bps["EQUITY"]
    corp = DEFAULT_PENALTIES.liquid_bps["CORP_BOND"]
    expected = [
        0.5 * 1e6 * liquid / 1e4 * 2.0,
        0.5 * 1e6 * thin / 1e4 * 2.0,
        0.5 * 1e6 * corp / 1e4 * 3.0,  # no estimate for the class: the overall mean
        0.5 * 1e6 * max(DEFAULT_PENALTIES.liquid_bps.values()) / 1e4 * 3.0,  # unknown: worst
    ]
    np.testing.assert_allclose(cost, expected)
