"""The day-visibility split (benchmarks.day_visibility) on trades counted by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd

from benchmarks.day_visibility import by_bucket, earlier_that_day


def test_earlier_trades_count_the_same_counterparty_on_the_same_day_only() -> None:
    trades = pd.DataFrame(
        {
            "trade_id": ["A", "B", "C", "D", "E"],
            "counterparty_id": ["C1", "C1", "C2", "C1", "C1"],
            "trade_date": pd.to_datetime(["2024-03-04"] * 4 + ["2024-03-05"]),
            "execution_ts": pd.to_datetime(
                [
                    "2024-03-04 15:00",
                    "2024-03-04 14:00",
                    "2024-03-04 13:00",
                    "2024-03-04 16:00",
                    "2024-03-05 09:00",
                ],
                utc=True,
            ),
        }
    )
    got = earlier_that_day(trades)
    assert got.to_dict() == {"B": 0, "A": 1, "D": 2, "C": 0, "E": 0}


def test_buckets_hold_their_rows_and_skip_those_with_too_few_fails() -> None:
    rng = np.random.default_rng(3)
    n = 4_000
    failed = rng.random(n) < 0.1
    rows = pd.DataFrame(
        {
            "failed": failed,
            "earlier": np.where(np.arange(n) < 3_000, 0, 25),  # nobody in 1–19
            "model": failed * 0.5 + rng.random(n),
            "oracle": failed * 1.0 + rng.random(n),
        }
    )
    got = {r["earlier"]: r for r in by_bucket(rows)}
    assert set(got) == {"all", "0", "20+"}
    assert got["0"]["trades"] == 3_000 and got["20+"]["trades"] == 1_000
    assert got["all"]["fails"] == int(failed.sum())
    assert 0 < got["all"]["ratio"] < 1, "the noisier score ranks the fails less well"
