"""Slowly changing facts: profiles, SSI state, positions and the SEC fails-to-deliver list."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from core.instants import NEVER_US, instants_us
from core.markets import MARKETS
from core.vocabulary import ASSET_CLASSES, CPTY_TYPES
from features.compute.rolling import DAY_US, Facts, window_sums

__all__ = [
    "SEC_FTD_PUBLICATION_LAG_DAYS",
    "category_code",
    "counterparty_profile",
    "instrument_ftd",
    "instrument_profile",
    "positions",
    "ssi_state",
]

SEC_FTD_PUBLICATION_LAG_DAYS = 15
"""The SEC posts each half month of fails-to-deliver about two weeks after it ends."""
_FTD_LIST_WINDOW_DAYS = 90


_SMALL = 64


def category_code(
    values: Sequence[Any] | np.ndarray | pd.Series, vocabulary: Sequence[str]
) -> np.ndarray:
    """Position of each value in the vocabulary; -1 for a value outside it (cold start)."""
    if len(values) <= _SMALL:  # a request's few trades: a dict beats building an Index
        position = {v: i for i, v in enumerate(vocabulary)}
        return np.array([position.get(v, -1) for v in values], dtype=np.int64)
    return pd.Index(list(vocabulary)).get_indexer(pd.Index(values)).astype(np.int64)


def _epoch_day(dates: pd.Series) -> np.ndarray:
    return np.asarray(dates, dtype="datetime64[D]").astype(np.int64)


def _midnight(dates: pd.Series) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(dates, dtype="datetime64[D]")).tz_localize("UTC").as_unit("us")


def counterparty_profile(counterparties: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "counterparty_id": counterparties["counterparty_id"].to_numpy(),
            "event_timestamp": _midnight(counterparties["onboarded_date"]),
            "cpty_type_code": category_code(counterparties["cpty_type"], CPTY_TYPES),
            "cpty_domicile_code": category_code(counterparties["domicile_market"], list(MARKETS)),
            "cpty_onboarded_day": _epoch_day(counterparties["onboarded_date"]),
        }
    )


def instrument_profile(instruments: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "instrument_id": instruments["instrument_id"].to_numpy(),
            "event_timestamp": _midnight(instruments["issue_date"]),
            "asset_class_code": category_code(instruments["asset_class"], ASSET_CLASSES),
            "instrument_market_code": category_code(instruments["market"], list(MARKETS)),
            "avg_daily_volume": instruments["avg_daily_volume"].to_numpy(np.float64),
            "reference_price": instruments["reference_price"].to_numpy(np.float64),
            "issue_day": _epoch_day(instruments["issue_date"]),
        }
    )


def _seconds(stamps: pd.Series) -> np.ndarray:
    values = instants_us(stamps)
    return np.where(values == NEVER_US, np.nan, values / 1e6)


def ssi_state(ssi: pd.DataFrame) -> pd.DataFrame:
    """The SSI in force per (counterparty, market, asset class): a row when a version takes
    effect, and another when it is verified (if before the next version)."""
    keys = ["counterparty_id", "market", "asset_class"]
    ssi = ssi.sort_values([*keys, "valid_from_ts"], ignore_index=True)
    valid_from = _seconds(ssi["valid_from_ts"])
    verified = _seconds(ssi["verified_ts"])
    same = (ssi[keys].shift(1) == ssi[keys]).all(axis=1).to_numpy()
    prev = np.where(same, np.roll(valid_from, 1), np.nan)
    nxt_same = (ssi[keys].shift(-1) == ssi[keys]).all(axis=1).to_numpy()
    next_from = np.where(nxt_same, np.roll(valid_from, -1), np.inf)
    verified_in_force = verified < next_from  # NaN compares False

    base = pd.DataFrame(
        {
            "counterparty_id": ssi["counterparty_id"].to_numpy(),
            "settlement_market": ssi["market"].to_numpy(),
            "asset_class": ssi["asset_class"].to_numpy(),
            "ssi_valid_from_s": valid_from,
            "ssi_prev_valid_from_s": prev,
        }
    )
    at_change = base.assign(
        event_timestamp=ssi["valid_from_ts"].to_numpy(),
        ssi_verified_s=np.where(verified <= valid_from, verified, np.nan),
    )
    at_verify = base.loc[verified_in_force].assign(
        event_timestamp=ssi.loc[verified_in_force, "verified_ts"].to_numpy(),
        ssi_verified_s=verified[verified_in_force],
    )
    frame = pd.concat([at_change, at_verify], ignore_index=True)
    frame["event_timestamp"] = pd.DatetimeIndex(frame["event_timestamp"]).as_unit("us")
    return frame.sort_values("event_timestamp", ignore_index=True)


def positions(inventory: pd.DataFrame) -> pd.DataFrame:
    frame = inventory.rename(columns={"as_of_ts": "event_timestamp"})
    return frame[
        ["account_id", "instrument_id", "event_timestamp", "available_qty", "incoming_qty"]
    ]


def instrument_ftd(ftd: pd.DataFrame, instruments: pd.DataFrame) -> pd.DataFrame:
    """Per US instrument and SEC half-month publication: the fails value at the period's last
    settlement date (0 when off the list) and the days on the list in the trailing 90 days."""
    isin = instruments["instrument_id"].astype(str)
    us = isin.str.startswith("US") & (isin.str.len() == 12)
    by_cusip = pd.Series(isin[us].to_numpy(), index=isin[us].str[2:11].to_numpy())
    by_cusip = by_cusip[~by_cusip.index.duplicated()]
    ftd = ftd.loc[ftd["cusip"].isin(by_cusip.index)]
    if ftd.empty:
        return _empty_ftd()
    day = np.asarray(ftd["settlement_date"], dtype="datetime64[D]")
    month = day.astype("datetime64[M]")
    mid = month.astype("datetime64[D]") + 14
    period_end = np.where(day <= mid, mid, (month + 1).astype("datetime64[D]") - 1)
    ftd = ftd.assign(period_end=period_end, day=day)

    periods = np.unique(period_end)
    cusips = np.unique(ftd["cusip"].to_numpy())
    grid = pd.MultiIndex.from_product(
        [pd.Index(cusips), pd.Index(periods)], names=["cusip", "period_end"]
    )
    last = ftd.sort_values("day").groupby(["cusip", "period_end"])["fails_value"].last()
    value = last.reindex(grid).fillna(0.0).to_numpy()

    code = pd.Index(cusips).get_indexer(pd.Index(ftd["cusip"]))
    facts = Facts(code, day.astype("datetime64[us]").astype(np.int64), {"days": np.ones(code.size)})
    at_code = np.repeat(np.arange(cusips.size), periods.size)
    at_us = np.tile(periods.astype("datetime64[us]").astype(np.int64), cusips.size) + DAY_US - 1
    days_on = window_sums(facts, at_code, at_us, _FTD_LIST_WINDOW_DAYS)["days"]

    published = pd.to_datetime(
        np.asarray(
            np.tile(periods, cusips.size) + np.timedelta64(SEC_FTD_PUBLICATION_LAG_DAYS + 1, "D"),
            dtype="datetime64[D]",
        )
    ).tz_localize("UTC")
    return pd.DataFrame(
        {
            "instrument_id": by_cusip.reindex(np.repeat(cusips, periods.size)).to_numpy(),
            "event_timestamp": published.as_unit("us"),
            "ftd_fails_value": value,
            "ftd_days_on_list_90d": days_on,
        }
    )


def _empty_ftd() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "instrument_id": pd.Series([], dtype=object),
            "event_timestamp": pd.DatetimeIndex([], tz="UTC").as_unit("us"),
            "ftd_fails_value": pd.Series([], dtype=np.float64),
            "ftd_days_on_list_90d": pd.Series([], dtype=np.float64),
        }
    )
