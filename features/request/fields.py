"""The request fields of a batch of trades: arrays in, arrays out, cheap for one trade."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from core.calendar import SettlementCalendar
from core.instants import instants_us
from core.markets import MARKETS
from features.compute.reference import category_code
from features.request.dates import DateFacts

__all__ = ["TRADE_COLUMNS", "request_fields", "request_frame", "trade_columns"]

TRADE_COLUMNS = (
    "execution_us",
    "trade_date",
    "settlement_date",
    "settlement_market",
    "settlement_cycle_days",
    "quantity",
    "notional",
    "side",
    "is_block",
)
"""What ``request_fields`` reads of each trade: contract columns as arrays, the execution
instant as int64 UTC microseconds."""


def trade_columns(trades: pd.DataFrame) -> dict[str, np.ndarray]:
    """``TRADE_COLUMNS`` of a trades frame."""
    columns = {c: trades[c].to_numpy() for c in TRADE_COLUMNS if c != "execution_us"}
    columns["execution_us"] = instants_us(trades["execution_ts"])
    return columns


def request_fields(
    trades: Mapping[str, np.ndarray],
    dates: DateFacts,
    scoring_us: np.ndarray,
    counterparty_market: np.ndarray,
) -> dict[str, np.ndarray]:
    """``REQUEST_FIELDS`` but the lifecycle ones (``lifecycle_state``) for trades
    (``TRADE_COLUMNS``) scored at ``scoring_us``, plus ``start_<stage>`` instants.
    ``counterparty_market`` is each counterparty's home market, whose holidays also hold up
    settlement. Arrays in, arrays out: cheap enough for one trade at a time."""
    trade_date = np.asarray(trades["trade_date"], dtype="datetime64[D]")
    market = np.asarray(trades["settlement_market"], dtype=object)
    execution_us = np.asarray(trades["execution_us"], dtype=np.int64)
    facts = dates(trade_date, trades["settlement_date"], market, counterparty_market)
    return {
        "req_execution_s": execution_us / 1e6,
        "req_scoring_s": np.asarray(scoring_us, dtype=np.int64) / 1e6,
        "req_exec_day": trade_date.astype(np.int64),
        "req_settlement_cycle_days": np.asarray(trades["settlement_cycle_days"], dtype=np.int64),
        "req_quantity": np.asarray(trades["quantity"], dtype=np.float64),
        "req_notional": np.asarray(trades["notional"], dtype=np.float64),
        "req_is_sell": (np.asarray(trades["side"]) == "SELL").astype(np.int64),
        "req_is_block": np.asarray(trades["is_block"], dtype=np.int64),
        "req_settlement_market_code": category_code(market, list(MARKETS)),
        **facts,
    }


def request_frame(
    trades: pd.DataFrame,
    calendar: SettlementCalendar,
    scoring_us: np.ndarray,
    counterparty_market: np.ndarray,
) -> pd.DataFrame:
    """``request_fields`` of a trades frame (``REQUEST_FIELDS`` only), on its index."""
    dates = DateFacts(calendar)
    fields = request_fields(trade_columns(trades), dates, scoring_us, counterparty_market)
    return pd.DataFrame(
        {k: v for k, v in fields.items() if k.startswith("req_")}, index=trades.index
    )
