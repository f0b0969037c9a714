"""The position-overlap measure (benchmarks.position_overlap) on a book small enough to count
by hand."""

from __future__ import annotations

import pandas as pd
import pytest

from benchmarks.position_overlap import overlap
from core.calendar import SettlementCalendar
from features.data.simulator import holidays_table


def _trade(trade_id: str, side: str, account: str, executed: str) -> dict[str, object]:
    return {
        "trade_id": trade_id,
        "side": side,
        "account_id": account,
        "instrument_id": "I1",
        "execution_ts": pd.Timestamp(executed, tz="UTC"),
        "trade_date": pd.Timestamp(executed[:10]),
        "settlement_date": pd.Timestamp("2024-03-06"),  # a Wednesday: ISD-1 is Tuesday 23:00
        "settlement_market": "US",
    }


def test_another_sells_snapshot_before_isd_1_is_counted_and_a_later_one_is_not() -> None:
    trades = pd.DataFrame(
        [
            _trade("S1", "SELL", "A1", "2024-03-04 15:00"),
            _trade("S2", "SELL", "A1", "2024-03-05 15:00"),  # shares S1's key
            _trade("S3", "SELL", "A2", "2024-03-04 15:00"),  # its key is its own
            _trade("B1", "BUY", "A1", "2024-03-04 16:00"),  # buys write no snapshot
        ]
    )
    # New York 18:30 on Tuesday is 23:30 UTC; ISD-1 (23:00 New York) is 04:00 UTC Wednesday
    snapshots = [
        ("A1", "2024-03-04 14:59"),  # S1 before execution
        ("A1", "2024-03-05 14:59"),  # S2 before execution
        ("A1", "2024-03-05 23:30"),  # S1's eve
        ("A1", "2024-03-05 23:40"),  # S2's eve: the latest of the key at S1's ISD-1
        ("A2", "2024-03-04 14:59"),  # S3 before execution
        ("A2", "2024-03-05 23:30"),  # S3's eve
        ("A1", "2024-03-06 05:00"),  # after ISD-1: counts for nobody
    ]
    inventory = pd.DataFrame(
        {
            "account_id": [a for a, _ in snapshots],
            "instrument_id": "I1",
            "as_of_ts": pd.to_datetime([t for _, t in snapshots], utc=True),
        }
    )
    got = overlap(trades, inventory, SettlementCalendar(holidays_table(2024, 2024)))
    assert got["sells"] == 3
    # S1 sees S2's two snapshots; S2 sees S1's eve; S3 none
    assert got["between"] == pytest.approx(2 / 3)
    # in the five hours before ISD-1: both A1 eves for S1 and S2, one for S3
    assert got["eve"] == pytest.approx(2 / 3)
