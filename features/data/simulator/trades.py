"""Draw executed trades (allocation level), day by day, vectorised over the whole period."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.calendar import SettlementCalendar
from core.markets import MARKETS
from core.vocabulary import ASSET_CLASSES
from features.data.simulator.params import Mechanisms
from features.data.simulator.world import DESKS, World

__all__ = ["Trades", "draw_trades", "standard_cycle"]


@dataclass
class Trades:
    frame: pd.DataFrame  # the public trades table, sorted by execution_ts
    cpty: np.ndarray  # row index into world.counterparties
    instr: np.ndarray  # row index into world.instruments
    account: np.ndarray  # row index into world.accounts
    day: np.ndarray  # index of the trade date among the simulated days
    local_minutes: np.ndarray  # execution time of day, local to the settlement market


def standard_cycle(
    markets: np.ndarray, asset: np.ndarray, trade_dates: np.ndarray, t1_switch: dt.date | None
) -> np.ndarray:
    """Business days from trade date to ISD under market convention (T+1 after the switch)."""
    switches = np.array([MARKETS[m].switches_to_t1 for m in markets])
    cycle = np.array([MARKETS[m].cycle_days for m in markets], dtype=np.int64)
    if t1_switch is not None:
        after = np.asarray(trade_dates, dtype="datetime64[D]") >= np.datetime64(t1_switch, "D")
        cycle = np.where(switches & after, 1, cycle)
    return np.where(switches & (asset == "GOVT_BOND"), 1, cycle)  # US/CA treasuries settle T+1


def _weighted_pick(
    rng: np.random.Generator,
    weights: np.ndarray,
    size: int,
    valid_from: np.ndarray,
    dates: np.ndarray,
) -> np.ndarray:
    """Draw rows by weight; rows not valid yet on the trade date are redrawn from older ones."""
    picked = rng.choice(weights.size, size=size, p=weights / weights.sum())
    early = valid_from[picked] > dates
    if early.any():
        established = np.flatnonzero(valid_from <= dates.min())
        w = weights[established]
        picked[early] = established[
            rng.choice(established.size, size=int(early.sum()), p=w / w.sum())
        ]
    return picked


def _local_minutes(rng: np.random.Generator, P: Mechanisms, asset: np.ndarray) -> np.ndarray:
    n = asset.size
    u = rng.random(n)
    session = np.where(
        np.isin(asset, ["EQUITY", "ETF"]),
        # U-shaped intraday volume over 09:30-16:00
        570 + 390 * rng.beta(0.7, 0.7, n),
        480 + 540 * rng.random(n),  # bonds trade 08:00-17:00
    )
    early = 420 + (P.EARLY_MORNING_END - 420) * rng.random(n)
    late = 960 + 240 * rng.random(n)  # after the close until 20:00
    return np.select(
        [u < P.EARLY_MORNING_SHARE, u < P.EARLY_MORNING_SHARE + P.AFTER_CLOSE_SHARE],
        [early, late],
        default=session,
    )


def draw_trades(
    rng: np.random.Generator,
    P: Mechanisms,
    world: World,
    calendar: SettlementCalendar,
    days: np.ndarray,
    trades_per_day: int,
    t1_switch: dt.date | None,
) -> Trades:
    counts = rng.poisson(trades_per_day, days.size)
    day = np.repeat(np.arange(days.size), counts)
    dates = days[day]
    n = day.size
    instruments = world.instruments
    asset_all = instruments["asset_class"].to_numpy()
    issue = instruments["issue_date"].to_numpy("datetime64[D]")
    asset_pick = rng.choice(len(ASSET_CLASSES), size=n, p=[P.TRADE_SHARE[a] for a in ASSET_CLASSES])
    instr = np.empty(n, dtype=np.int64)
    adv_weight = instruments["avg_daily_volume"].to_numpy() ** 0.6
    for k, ac in enumerate(ASSET_CLASSES):
        rows = np.flatnonzero(asset_all == ac)
        sel = np.flatnonzero(asset_pick == k)
        instr[sel] = rows[_weighted_pick(rng, adv_weight[rows], sel.size, issue[rows], dates[sel])]
    market = instruments["market"].to_numpy()[instr]
    open_ = calendar.is_business_day(dates, market)  # no trading on a market holiday
    keep = np.flatnonzero(open_)
    day, dates, instr, market = day[keep], dates[keep], instr[keep], market[keep]
    n = keep.size
    asset = asset_all[instr]

    cp = world.counterparties
    cpty = _weighted_pick(
        rng, world.cpty_weight, n, cp["onboarded_date"].to_numpy("datetime64[D]"), dates
    )
    cpty_type = cp["cpty_type"].to_numpy()[cpty]

    desk_of = {(ac, m): d for d, (ac, ms) in DESKS.items() for m in ms}
    desk = np.array([desk_of[(a, m)] for a, m in zip(asset, market, strict=True)])
    accounts = world.accounts
    per_desk = accounts.groupby("desk_id").indices
    account = np.empty(n, dtype=np.int64)
    for d in np.unique(desk):
        sel = np.flatnonzero(desk == d)
        rows = np.asarray(per_desk[d])
        account[sel] = rows[rng.integers(0, rows.size, sel.size)]

    is_bond = np.isin(asset, ["GOVT_BOND", "CORP_BOND"])
    ref = instruments["reference_price"].to_numpy()[instr]
    raw_price = ref * np.exp(rng.normal(0.0, 0.02, n))
    price = np.where(is_bond, np.round(raw_price, 3), np.round(raw_price, 2))
    target = np.array([P.MEDIAN_NOTIONAL[a] for a in asset]) * np.exp(
        rng.normal(0.0, P.NOTIONAL_SIGMA, n)
    )
    unit_value = np.where(is_bond, price / 100.0, price)
    lot = np.where(is_bond, 1_000.0, np.where(rng.random(n) < 0.7, 100.0, 1.0))
    quantity = np.maximum(np.round(target / unit_value / lot), 1.0) * lot
    notional = np.round(quantity * unit_value, 2)

    block_p = np.array([P.BLOCK_SHARE.get(t, P.BLOCK_SHARE_OTHER) for t in cpty_type])
    is_block = rng.random(n) < block_p
    side = np.where(rng.random(n) < np.where(asset == "ETF", 0.52, 0.5), "SELL", "BUY")

    cycle = standard_cycle(market, asset, dates, t1_switch)
    cycle = cycle + (rng.random(n) < P.NON_STANDARD_CYCLE_SHARE)
    settlement = calendar.add_business_days(dates, cycle, market)
    minutes = _local_minutes(rng, P, asset)
    execution = calendar.local_to_utc(dates, minutes, market)

    order = np.argsort(execution, kind="stable")
    frame = pd.DataFrame(
        {
            "trade_id": [f"T{i:08d}" for i in range(n)],
            "execution_ts": pd.DatetimeIndex(execution[order]).tz_localize("UTC"),
            "trade_date": dates[order].astype("datetime64[ns]"),
            "settlement_date": settlement[order].astype("datetime64[ns]"),
            "settlement_cycle_days": cycle[order].astype(np.int64),
            "desk_id": desk[order].astype(object),
            "account_id": accounts["account_id"].to_numpy()[account[order]],
            "counterparty_id": cp["counterparty_id"].to_numpy()[cpty[order]],
            "instrument_id": instruments["instrument_id"].to_numpy()[instr[order]],
            "side": side[order].astype(object),
            "quantity": quantity[order],
            "price": price[order],
            "notional": notional[order],
            "currency": instruments["currency"].to_numpy()[instr[order]],
            "settlement_market": market[order].astype(object),
            "is_block": is_block[order],
        }
    )
    frame["execution_ts"] = frame["execution_ts"].astype("datetime64[us, UTC]")
    return Trades(frame, cpty[order], instr[order], account[order], day[order], minutes[order])
