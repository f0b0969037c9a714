"""Client-side helpers: trades (a frame under the raw-data contract) as /score request
bodies, for the demo, the benchmark, the tests and anyone scripting against the service."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from core.lifecycle import AMENDMENTS, STEPS

__all__ = ["trade_records"]


def _iso(stamp: pd.Timestamp | dt.datetime | float | None) -> str | None:
    if stamp is None or pd.isna(stamp):
        return None
    if isinstance(stamp, float):  # epoch seconds, as lifecycle_state gives them
        return pd.Timestamp(stamp, unit="s", tz="UTC").isoformat()
    return pd.Timestamp(stamp).isoformat()


def trade_records(
    trades: pd.DataFrame, lifecycle: pd.DataFrame | None = None
) -> list[dict[str, Any]]:
    """One JSON-ready trade per row; ``lifecycle`` (``features.request.lifecycle_state``
    rows, aligned with ``trades``) adds what has happened to each trade so far."""
    records = []
    for i, (_, trade) in enumerate(trades.iterrows()):
        out = {str(k): (v.item() if hasattr(v, "item") else v) for k, v in trade.items()}
        out["execution_ts"] = _iso(trade["execution_ts"])
        out["trade_date"] = str(trade["trade_date"])[:10]
        out["settlement_date"] = str(trade["settlement_date"])[:10]
        if lifecycle is not None:
            state = lifecycle.iloc[i]
            out["lifecycle"] = {s.field: _iso(float(state[s.request])) for s in STEPS} | {
                AMENDMENTS.field: int(state[AMENDMENTS.request])
            }
        records.append(out)
    return records
