"""Request-time features: what is known about a trade when it is scored, not stored anywhere.

Three parts, each defined once and used both for training (offline) and serving (online):
- ``REQUEST_FIELDS`` and ``request_frame``: the fields sent with each trade (calendar-derived
  times and flags, size, lifecycle state as of the scoring instant);
- ``lifecycle_state``: lifecycle fields rebuilt from the events table as of any instant;
- ``context_features`` / ``lifecycle_features``: the python-mode on-demand transforms that
  combine request fields with stored features (vectorised; a batch or a single trade).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from core.calendar import SettlementCalendar
from core.instants import NEVER_US, instants_us
from core.markets import MARKETS
from core.stages import STAGES, stage_starts
from features.compute.reference import category_code
from features.data.derive import holiday_in_window

__all__ = [
    "CONTEXT_FEATURES",
    "LIFECYCLE_EVENTS",
    "LIFECYCLE_FEATURES",
    "REQUEST_FIELDS",
    "TRADE_COLUMNS",
    "DateFacts",
    "Spec",
    "context_features",
    "exec_local_minutes",
    "lifecycle_features",
    "lifecycle_state",
    "request_fields",
    "request_frame",
    "trade_columns",
]


@dataclass(frozen=True)
class Spec:
    name: str
    kind: Literal["float", "int"]
    description: str


REQUEST_FIELDS = (
    Spec("req_execution_s", "float", "execution instant, UTC epoch seconds"),
    Spec("req_scoring_s", "float", "scoring instant, UTC epoch seconds"),
    Spec("req_cutoff_s", "float", "affirmation cutoff, UTC epoch seconds"),
    Spec("req_exec_local_minutes", "float", "execution time of day, local minutes after midnight"),
    Spec("req_exec_day", "int", "execution date, days since 1970-01-01"),
    Spec("req_settlement_cycle_days", "int", "business days from trade date to ISD"),
    Spec("req_quantity", "float", "units traded"),
    Spec("req_notional", "float", "trade value in the trade currency"),
    Spec("req_is_sell", "int", "1 when we deliver securities"),
    Spec("req_is_block", "int", "1 for a block trade allocated after execution"),
    Spec("req_holiday_in_window", "int", "1 when a holiday falls in (trade date, ISD]"),
    Spec("req_period_end", "int", "1 when the ISD is among the month's last business days"),
    Spec("req_quarter_end", "int", "1 when that month ends a quarter"),
    Spec("req_settlement_market_code", "int", "settlement market, index in MARKETS"),
    Spec("req_allocated_s", "float", "first ALLOCATED event as of scoring (NaN: none yet)"),
    Spec("req_confirmed_s", "float", "first CONFIRMED event as of scoring"),
    Spec("req_affirmed_s", "float", "first AFFIRMED event as of scoring"),
    Spec("req_instructed_s", "float", "first INSTRUCTED event as of scoring"),
    Spec("req_matched_s", "float", "first MATCHED event as of scoring"),
    Spec("req_amendments", "int", "AMENDED events as of scoring"),
)

CONTEXT_FEATURES = (
    Spec("minutes_to_cutoff_at_execution", "float", "time ops had to affirm, from execution"),
    Spec("exec_local_hour", "float", "local hour of execution (early morning, late day)"),
    Spec("settlement_cycle_days", "int", "settlement cycle (T+1, T+2, extended)"),
    Spec("holiday_in_window", "int", "a holiday in the settlement window"),
    Spec("period_end", "int", "month-end settlement"),
    Spec("quarter_end", "int", "quarter-end settlement"),
    Spec("settlement_market_code", "int", "settlement market"),
    Spec("cross_border", "float", "counterparty domiciled outside the settlement market"),
    Spec("is_sell", "int", "we deliver securities"),
    Spec("is_block", "int", "block trade"),
    Spec("log_notional", "float", "log10 of the trade value"),
    Spec("notional_vs_cpty_mean", "float", "trade value over the counterparty's 90-day mean"),
    Spec("size_vs_adv", "float", "quantity over the instrument's average daily volume"),
    Spec("inventory_coverage", "float", "(available + incoming) / quantity on our sells"),
    Spec("available_coverage", "float", "available / quantity on our sells (receipts not in)"),
    Spec("cpty_days_since_onboarding", "float", "counterparty relationship age, days"),
    Spec("instrument_age_days", "float", "days since issue (newly issued instruments)"),
    Spec("ssi_age_days", "float", "days since the SSI in force took effect"),
    Spec("ssi_unverified", "float", "the SSI in force has not been verified"),
    Spec("ssi_days_since_verified", "float", "days since the SSI in force was verified"),
    Spec("ssi_changes_90d", "float", "SSI versions that took effect in the last 90 days"),
)

LIFECYCLE_FEATURES = (
    Spec("minutes_since_execution", "float", "age of the trade at scoring"),
    Spec("minutes_to_cutoff", "float", "minutes left to the affirmation cutoff (negative after)"),
    Spec("allocated", "int", "allocated as of scoring"),
    Spec("confirmed", "int", "confirmed as of scoring"),
    Spec("affirmed", "int", "affirmed as of scoring"),
    Spec("affirmed_late", "int", "affirmed after the cutoff, or still unaffirmed past it"),
    Spec("instructed", "int", "settlement instruction sent as of scoring"),
    Spec("matched", "int", "matched at the CSD as of scoring"),
    Spec("amendments", "int", "amendments as of scoring (each restarts matching)"),
)

LIFECYCLE_EVENTS = {
    "req_allocated_s": "ALLOCATED",
    "req_confirmed_s": "CONFIRMED",
    "req_affirmed_s": "AFFIRMED",
    "req_instructed_s": "INSTRUCTED",
    "req_matched_s": "MATCHED",
}
_DAY_S = 86_400.0
_HOUR_US = 3_600_000_000
_DAY_US = 86_400_000_000
_DATE_FACTS = (
    "req_cutoff_s",
    "req_holiday_in_window",
    "req_period_end",
    "req_quarter_end",
    *(f"start_{stage}" for stage in STAGES[1:]),
)


def _seconds(us: np.ndarray) -> np.ndarray:
    return np.where(us == NEVER_US, np.nan, us / 1e6)


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


def exec_local_minutes(execution_us: np.ndarray, market: np.ndarray) -> np.ndarray:
    """Local time of day of each execution, minutes after midnight in its settlement
    market. UTC offsets change only on whole UTC hours in these markets, so one offset per
    (market, hour) serves every instant in that hour."""
    execution_us = np.asarray(execution_us, dtype=np.int64)
    hours = execution_us // _HOUR_US
    offsets = np.empty(execution_us.size, dtype=np.int64)
    market = np.asarray(market, dtype=object)
    for code in dict.fromkeys(market.tolist()):  # the markets present, without a sort
        idx = np.flatnonzero(market == code)
        unique, inverse = np.unique(hours[idx], return_inverse=True)
        offset = np.array([_utc_offset_us(str(code), int(h)) for h in unique], dtype=np.int64)
        offsets[idx] = offset[inverse]
    return ((execution_us + offsets) % _DAY_US) / 60e6


@functools.lru_cache(maxsize=65_536)
def _utc_offset_us(market: str, hour: int) -> int:
    at = dt.datetime.fromtimestamp(hour * 3600, tz=ZoneInfo(MARKETS[market].tz))
    return int(at.utcoffset().total_seconds()) * 1_000_000  # type: ignore[union-attr]


class DateFacts:
    """Calendar facts of a trade that depend only on its dates and markets — the cutoff,
    holiday in window, month and quarter end, when its later stages start — computed once
    per distinct (trade date, ISD, settlement market, counterparty market) and remembered:
    the same few combinations recur all day, so one-trade requests skip the arithmetic."""

    def __init__(self, calendar: SettlementCalendar, capacity: int = 100_000) -> None:
        self.calendar, self.capacity = calendar, capacity
        self._memo: dict[int, dict[str, object]] = {}

    def __call__(
        self,
        trade_date: np.ndarray,
        settlement_date: np.ndarray,
        market: np.ndarray,
        counterparty_market: np.ndarray,
    ) -> dict[str, np.ndarray]:
        trade_day = np.asarray(trade_date, dtype="datetime64[D]").astype(np.int64)
        isd_day = np.asarray(settlement_date, dtype="datetime64[D]").astype(np.int64)
        codes = list(MARKETS)
        key = (
            (trade_day * 4096 + (isd_day - trade_day)) * 64
            + category_code(market, codes) * 8
            + category_code(counterparty_market, codes)
        )
        unique, first, inverse = np.unique(key, return_index=True, return_inverse=True)
        missing = [i for i, k in enumerate(unique.tolist()) if k not in self._memo]
        if missing:
            rows = first[missing]
            computed = self._compute(
                trade_day[rows].astype("datetime64[D]"),
                isd_day[rows].astype("datetime64[D]"),
                np.asarray(market, dtype=object)[rows],
                np.asarray(counterparty_market, dtype=object)[rows],
            )
            if len(self._memo) + len(missing) > self.capacity:
                self._memo.clear()
            for j, i in enumerate(missing):
                self._memo[int(unique[i])] = {name: v[j] for name, v in computed.items()}
        facts = [self._memo[k] for k in unique.tolist()]
        return {name: np.array([f[name] for f in facts])[inverse] for name in _DATE_FACTS}

    def _compute(
        self, trade_date: np.ndarray, isd: np.ndarray, market: np.ndarray, home: np.ndarray
    ) -> dict[str, np.ndarray]:
        calendar = self.calendar
        month_end, quarter_end = calendar.period_end(isd, market)
        starts = stage_starts(isd, market, calendar)
        return {
            "req_cutoff_s": calendar.affirmation_cutoff(isd, market).astype(np.int64) / 1e6,
            "req_holiday_in_window": holiday_in_window(
                calendar, trade_date, isd, market, home
            ).astype(np.int64),
            "req_period_end": month_end.astype(np.int64),
            "req_quarter_end": quarter_end.astype(np.int64),
            **{f"start_{stage}": at for stage, at in starts.items()},
        }


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
        "req_exec_local_minutes": exec_local_minutes(execution_us, market),
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


def lifecycle_state(
    trade_ids: pd.Series, events: pd.DataFrame | None, as_of_us: np.ndarray
) -> pd.DataFrame:
    """Lifecycle fields of ``REQUEST_FIELDS`` for each trade as of its own instant: only
    events at or before ``as_of_us`` count."""
    as_of = pd.Series(np.asarray(as_of_us, dtype=np.int64), index=trade_ids.index)
    out = pd.DataFrame(index=trade_ids.index)
    if events is None or events.empty:
        for field in LIFECYCLE_EVENTS:
            out[field] = np.nan
        out["req_amendments"] = 0
        return out
    rows = pd.DataFrame(
        {
            "trade_id": trade_ids.to_numpy(),
            "row": np.arange(len(trade_ids)),
            "as_of": as_of.to_numpy(),
        }
    )
    seen = events[["trade_id", "event_type", "event_ts"]].merge(rows, on="trade_id")
    seen = seen.loc[instants_us(seen["event_ts"]) <= seen["as_of"].to_numpy()]
    first = seen.assign(us=instants_us(seen["event_ts"])).groupby(["row", "event_type"])["us"].min()
    for field, kind in LIFECYCLE_EVENTS.items():
        at = first.xs(kind, level="event_type") if kind in first.index.get_level_values(1) else None
        values = np.full(len(trade_ids), np.nan)
        if at is not None:
            values[at.index.to_numpy()] = at.to_numpy() / 1e6
        out[field] = values
    amended = seen.loc[seen["event_type"] == "AMENDED"].groupby("row").size()
    counts = np.zeros(len(trade_ids), dtype=np.int64)
    counts[amended.index.to_numpy()] = amended.to_numpy()
    out["req_amendments"] = counts
    return out


class _Columns:
    """Numeric columns of a python-mode input batch, as float arrays (None becomes NaN)."""

    def __init__(self, inputs: Mapping[str, Any]) -> None:
        self._inputs = inputs

    def __getitem__(self, name: str) -> np.ndarray:
        return np.asarray(self._inputs[name], dtype=np.float64).reshape(-1)


def _out(specs: Sequence[Spec], values: Mapping[str, np.ndarray]) -> dict[str, list]:
    """Columns in spec order, typed per spec; a NaN int (unknown input) becomes 0."""
    return {
        s.name: (
            np.where(np.isnan(values[s.name]), 0.0, values[s.name]).astype(np.int64).tolist()
            if s.kind == "int"
            else values[s.name].astype(np.float64).tolist()
        )
        for s in specs
    }


def context_features(inputs: Mapping[str, Any]) -> dict[str, list]:
    """Request-time features: request fields combined with stored entity features."""
    x = _Columns(inputs)
    scoring, execution = x["req_scoring_s"], x["req_execution_s"]
    sell = x["req_is_sell"] == 1
    domicile = x["cpty_domicile_code"]
    with np.errstate(invalid="ignore", divide="ignore"):
        values = {
            "minutes_to_cutoff_at_execution": (x["req_cutoff_s"] - execution) / 60.0,
            "exec_local_hour": x["req_exec_local_minutes"] / 60.0,
            "cross_border": np.where(
                np.isnan(domicile), np.nan, (domicile != x["req_settlement_market_code"]) * 1.0
            ),
            "log_notional": np.log10(np.maximum(x["req_notional"], 1.0)),
            "notional_vs_cpty_mean": x["req_notional"] / x["cpty_mean_notional_90d"],
            "size_vs_adv": x["req_quantity"] / x["avg_daily_volume"],
            "inventory_coverage": np.where(
                sell, (x["available_qty"] + x["incoming_qty"]) / x["req_quantity"], np.nan
            ),
            "available_coverage": np.where(sell, x["available_qty"] / x["req_quantity"], np.nan),
            "cpty_days_since_onboarding": x["req_exec_day"] - x["cpty_onboarded_day"],
            "instrument_age_days": x["req_exec_day"] - x["issue_day"],
            "ssi_age_days": (scoring - x["ssi_valid_from_s"]) / _DAY_S,
            "ssi_unverified": np.where(
                np.isnan(x["ssi_valid_from_s"]), np.nan, np.isnan(x["ssi_verified_s"]) * 1.0
            ),
            "ssi_days_since_verified": (scoring - x["ssi_verified_s"]) / _DAY_S,
            "ssi_changes_90d": np.where(
                np.isnan(x["ssi_valid_from_s"]),
                np.nan,
                ((scoring - x["ssi_valid_from_s"]) < 90 * _DAY_S) * 1.0
                + ((scoring - x["ssi_prev_valid_from_s"]) < 90 * _DAY_S),
            ),
        }
    for passthrough in (
        "settlement_cycle_days",
        "holiday_in_window",
        "period_end",
        "quarter_end",
        "settlement_market_code",
        "is_sell",
        "is_block",
    ):
        values[passthrough] = x[f"req_{passthrough}"]
    return _out(CONTEXT_FEATURES, values)


def lifecycle_features(inputs: Mapping[str, Any]) -> dict[str, list]:
    """Lifecycle status and lateness as of the scoring instant."""
    x = _Columns(inputs)
    scoring, cutoff = x["req_scoring_s"], x["req_cutoff_s"]

    def done(field: str) -> np.ndarray:
        return (x[field] <= scoring) * 1.0  # NaN (not yet) compares False

    affirmed = done("req_affirmed_s")
    values = {
        "minutes_since_execution": (scoring - x["req_execution_s"]) / 60.0,
        "minutes_to_cutoff": (cutoff - scoring) / 60.0,
        "allocated": done("req_allocated_s"),
        "confirmed": done("req_confirmed_s"),
        "affirmed": affirmed,
        "affirmed_late": np.where(affirmed == 1, x["req_affirmed_s"] > cutoff, scoring > cutoff)
        * 1.0,
        "instructed": done("req_instructed_s"),
        "matched": done("req_matched_s"),
        "amendments": x["req_amendments"],  # an int: NaN becomes 0 in _out
    }
    return _out(LIFECYCLE_FEATURES, values)
