"""The trailing-window engine against a plain loop, and the shrinkage it feeds."""

from __future__ import annotations

import numpy as np
import pytest

from features.compute.rolling import DAY_US, Facts, refresh_instants, shrunk_rate, window_sums


def _loop_sum(facts: Facts, entity: int, at: int, days: int, name: str) -> float:
    inside = (
        (facts.entity == entity) & (facts.known_us <= at) & (facts.known_us > at - days * DAY_US)
    )
    return float(facts.values[name][inside].sum())


@pytest.mark.parametrize("days", [1, 7, 90])
def test_window_sums_equal_a_loop(days: int) -> None:
    rng = np.random.default_rng(3)
    n = 2_000
    t0 = 1_700_000_000 * 1_000_000
    facts = Facts(
        entity=rng.integers(0, 12, n),
        known_us=t0 + rng.integers(0, 200 * DAY_US, n),
        values={"x": rng.random(n), "one": np.ones(n)},
    )
    entity = rng.integers(0, 14, 300)  # codes 12 and 13 have no facts
    at = t0 + rng.integers(-5 * DAY_US, 210 * DAY_US, 300)
    # Boundaries: a fact exactly at the instant counts, one exactly a window earlier does not.
    at[:20] = facts.known_us[:20]
    entity[:20] = facts.entity[:20]
    at[20:40] = facts.known_us[20:40] + days * DAY_US
    entity[20:40] = facts.entity[20:40]

    got = window_sums(facts, entity, at, days)
    for name in ("x", "one"):
        want = [_loop_sum(facts, e, a, days, name) for e, a in zip(entity, at, strict=True)]
        np.testing.assert_allclose(got[name], want, atol=1e-9)


def test_refresh_instants_cover_every_midnight_and_arrival() -> None:
    day = 20_000 * DAY_US
    entity = np.array([0, 0, 1])
    known = np.array([day + 5, day + 3 * DAY_US, day + DAY_US + 7])
    arrivals = np.array([day + 5, np.iinfo(np.int64).min, day + DAY_US + 7])
    got_entity, got_at = refresh_instants(entity, known, arrivals, horizon_us=day + 3 * DAY_US + 1)
    rows = set(zip(got_entity.tolist(), got_at.tolist(), strict=True))
    assert rows == {
        (0, day + 5),
        (0, day + DAY_US),
        (0, day + 2 * DAY_US),
        (0, day + 3 * DAY_US),
        (1, day + DAY_US + 7),
        (1, day + 2 * DAY_US),
        (1, day + 3 * DAY_US),
    }


def test_shrinkage_moves_from_prior_to_own_rate_with_history() -> None:
    assert shrunk_rate(np.array(0.0), np.array(0.0), 0.05, 20.0) == pytest.approx(0.05)
    # One fail in one trade is not a 100% fail rate.
    assert shrunk_rate(np.array(1.0), np.array(1.0), 0.05, 20.0) < 0.1
    assert shrunk_rate(np.array(300.0), np.array(1000.0), 0.05, 20.0) == pytest.approx(
        0.3, abs=0.01
    )


def test_facts_reject_misaligned_values() -> None:
    with pytest.raises(ValueError, match="fact value 'x' has 2 rows; expected 3"):
        Facts(np.zeros(3, np.int64), np.zeros(3, np.int64), {"x": np.zeros(2)})
