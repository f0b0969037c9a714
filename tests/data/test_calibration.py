"""The default world lands inside every calibration target of DESIGN.md."""

from __future__ import annotations

import pytest

from features.data.contract import Dataset
from features.data.summary import TARGETS, CalibrationSummary, Target, summarise


@pytest.fixture(scope="module")
def summary(calibration_world: Dataset) -> CalibrationSummary:
    return summarise(calibration_world)


@pytest.mark.parametrize("target", TARGETS, ids=[t.key for t in TARGETS])
def test_default_world_meets_target(summary: CalibrationSummary, target: Target) -> None:
    value = summary.figures[target.key]
    assert target.holds(value), f"{target.label} is {value:.4f}, target {target.text}"


def test_value_weighted_rate_is_below_count_rate(summary: CalibrationSummary) -> None:
    assert summary.figures["fail_rate_value"] < summary.figures["fail_rate_count"]


def test_asset_classes_are_ordered(summary: CalibrationSummary) -> None:
    f = summary.figures
    assert (
        f["fail_rate_ETF"]
        > f["fail_rate_EQUITY"]
        > f["fail_rate_CORP_BOND"]
        > f["fail_rate_GOVT_BOND"]
    )


def test_most_fails_clear_in_one_or_two_days_with_a_long_tail(summary: CalibrationSummary) -> None:
    late = summary.days_late
    assert late["1 day"] + late["2 days"] >= 0.6
    assert late["1 day"] > late["2 days"] > late["6+ days"] > 0
    assert late["max"] >= 10
