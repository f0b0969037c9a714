"""The state of the world at each trade's execution: everything a perfect observer knows then.

Post-execution draws (features.data.simulator.paths) start from this state; the oracle
``p_fail_at_execution`` averages over them.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.calendar import SettlementCalendar
from features.data.derive import holiday_in_window
from features.data.simulator.params import Mechanisms
from features.data.simulator.ssi import SsiBook
from features.data.simulator.stress import Stress
from features.data.simulator.trades import Trades
from features.data.simulator.world import World

__all__ = ["ExecState", "build_state"]

_MIN_US = 60_000_000
_DAY_US = 1_440 * _MIN_US


@dataclass
class ExecState:
    n: int
    mechanisms: Mechanisms  # the strengths every later draw uses
    sell: np.ndarray
    is_block: np.ndarray
    quantity: np.ndarray
    quality: np.ndarray  # counterparty operational quality on the trade date (latent)
    affirm_type: np.ndarray  # affirmation latency multiplier of the counterparty type
    cold: np.ndarray  # counterparty onboarded recently
    cross_border: np.ndarray
    early_morning: np.ndarray
    t1_transition: np.ndarray
    vol: np.ndarray  # market volatility multiplier on the trade date (latent)
    env: np.ndarray  # calendar and ticket-size multiplier applied to every cause
    ops: np.ndarray  # asset-class multiplier of operational causes
    ftd_mult: np.ndarray
    htb: np.ndarray
    new_issue: np.ndarray
    cash_stress: np.ndarray
    notional_rel: np.ndarray
    # instants, int64 µs UTC
    exec_us: np.ndarray
    cutoff_us: np.ndarray
    deadline_us: np.ndarray  # matched by then to make the ISD's first settlement cycle
    isd_day: np.ndarray  # datetime64[D]
    # SSI in force at execution
    ssi_age_days: np.ndarray
    ssi_verified: np.ndarray
    ssi_verified_age_days: np.ndarray
    ssi_next_change_us: np.ndarray  # when the next version takes effect (int64 max: never)
    ssi_change_rate: np.ndarray  # per day, for replicas
    # inventory of our sells at execution
    available: np.ndarray
    incoming: np.ndarray
    link: np.ndarray  # index of the buy trade whose receipt the incoming is, -1 if external
    # what the latent mechanisms multiply (features.data.simulator.stress; 1 where off)
    affirm_stress: np.ndarray
    match_stress: np.ndarray
    alloc_stress: np.ndarray
    scarce: np.ndarray

    def ssi_changed_by(self, until_us: np.ndarray) -> np.ndarray:
        """A new SSI version took effect after execution and by ``until_us``."""
        return (self.ssi_next_change_us > self.exec_us) & (self.ssi_next_change_us <= until_us)


def _inventory(
    rng: np.random.Generator,
    P: Mechanisms,
    st: dict[str, np.ndarray],
    asset: np.ndarray,
    adv: np.ndarray,
    account_short: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    n = asset.size
    qty = st["quantity"]
    base = np.array([P.SHORT_BASE[a] for a in asset])
    size_adv = 1.0 + P.SIZE_VS_ADV_SHORT * np.minimum(qty / np.maximum(adv, 1.0), 1.0)
    propensity = (
        base
        * np.where(st["htb"], P.HTB_SHORT_MULT, 1.0)
        * np.where(st["new_issue"], P.NEW_ISSUE_SHORT_MULT, 1.0)
        * np.where(st["scarce"], P.SCARCITY_SHORT_MULT, 1.0)
        * st["ftd_mult"]
        * account_short
        * size_adv
        * np.sqrt(st["vol"])
    )
    short = st["sell"] & (rng.random(n) < np.clip(propensity, 0.0, 0.7))
    by_incoming = rng.random(n) < P.SHORT_COVERED_BY_INCOMING
    part = rng.uniform(0.0, 0.95, n)  # partial availability
    long_avail = qty * (1.0 + np.exp(rng.normal(0.5, 1.0, n)))
    long_incoming = qty * (rng.random(n) < 0.3) * np.exp(rng.normal(-1.0, 1.0, n))
    gap = qty * (1.0 - part)
    short_incoming = np.where(
        by_incoming,
        gap * rng.uniform(1.0, 1.5, n),
        gap * rng.uniform(0.0, 0.9, n) * (rng.random(n) < 0.5),
    )
    available = np.where(short, qty * part, long_avail)
    incoming = np.where(short, short_incoming, long_incoming)
    available = np.where(st["sell"], np.floor(available), 0.0)
    incoming = np.where(st["sell"], np.floor(incoming), 0.0)
    return available, incoming


def _link_incoming(
    instr: np.ndarray,
    sell: np.ndarray,
    isd_day: np.ndarray,
    exec_us: np.ndarray,
    incoming: np.ndarray,
) -> np.ndarray:
    """For sells expecting receipts: the latest earlier buy of the instrument settling by ISD."""
    link = np.full(instr.size, -1, dtype=np.int64)
    buys = np.flatnonzero(~sell)
    day = isd_day.astype(np.int64)
    bkey = instr[buys].astype(np.int64) * (1 << 24) + day[buys]
    order = np.argsort(bkey, kind="stable")
    buys, bkey = buys[order], bkey[order]
    need = np.flatnonzero(sell & (incoming > 0))
    pos = np.searchsorted(bkey, instr[need].astype(np.int64) * (1 << 24) + day[need], "right") - 1
    ok = pos >= 0
    cand = buys[np.clip(pos, 0, None)]
    ok &= (instr[cand] == instr[need]) & (exec_us[cand] < exec_us[need])
    link[need[ok]] = cand[ok]
    return link


def build_state(
    rng: np.random.Generator,
    P: Mechanisms,
    world: World,
    trades: Trades,
    ssi: SsiBook,
    stress: Stress,
    calendar: SettlementCalendar,
    days: np.ndarray,
    t1_switch: dt.date | None,
) -> ExecState:
    f = trades.frame
    n = len(f)
    market = f["settlement_market"].to_numpy()
    td = f["trade_date"].to_numpy("datetime64[D]")
    isd = f["settlement_date"].to_numpy("datetime64[D]")
    exec_us = f["execution_ts"].to_numpy("datetime64[us]").astype(np.int64)
    cp, ins = world.counterparties, world.instruments
    asset = ins["asset_class"].to_numpy()[trades.instr]
    frac = trades.day / max(days.size - 1, 1)
    drift = 1.0 + (world.cpty_drift_end[trades.cpty] - 1.0) * frac
    quality = world.cpty_quality[trades.cpty] * drift
    cpty_type = cp["cpty_type"].to_numpy()[trades.cpty]
    domicile = cp["domicile_market"].to_numpy()[trades.cpty]
    onboarded = cp["onboarded_date"].to_numpy("datetime64[D]")[trades.cpty]
    issue = ins["issue_date"].to_numpy("datetime64[D]")[trades.instr]

    holiday = holiday_in_window(calendar, td, isd, market, domicile)
    month_end, quarter_end = calendar.period_end(isd, market)
    notional_rel = f["notional"].to_numpy() / np.array([P.MEDIAN_NOTIONAL[a] for a in asset])
    env = (
        np.where(month_end, P.MONTH_END_MULT, 1.0)
        * np.where(quarter_end, P.QUARTER_END_MULT, 1.0)
        * np.where(holiday, P.HOLIDAY_WINDOW_MULT, 1.0)
        * np.clip(notional_rel**P.NOTIONAL_ELASTICITY, 0.5, 2.0)
    )
    vol = world.vol.to_numpy()[trades.day, world.vol.columns.get_indexer(pd.Index(market))]
    t1_transition = np.zeros(n, dtype=bool)
    if t1_switch is not None:
        since = (td - np.datetime64(t1_switch, "D")).astype(np.int64)
        t1_transition = (
            np.isin(market, ["US", "CA"]) & (since >= 0) & (since < P.T1_TRANSITION_DAYS)
        )

    st: dict[str, np.ndarray] = {
        "sell": f["side"].to_numpy() == "SELL",
        "quantity": f["quantity"].to_numpy(),
        "htb": world.instr_htb[trades.instr],
        "new_issue": (td - issue).astype(np.int64) < P.NEW_ISSUE_DAYS,
        "ftd_mult": 0.5 + 2.0 * world.instr_ftd_rank[trades.instr] ** 2,
        "vol": vol,
        "scarce": stress.scarce,
    }
    adv = ins["avg_daily_volume"].to_numpy()[trades.instr]
    available, incoming = _inventory(rng, P, st, asset, adv, world.account_short[trades.account])
    link = _link_incoming(trades.instr, st["sell"], isd, exec_us, incoming)

    combo = SsiBook.combo_id(trades.cpty, market, asset)
    deadline = calendar.local_to_utc(isd, np.full(n, P.MATCH_DEADLINE_MINUTES), market).astype(
        np.int64
    )
    valid_from, verified, next_change = ssi.state_at(combo, exec_us)
    is_verified = verified <= exec_us
    return ExecState(
        n=n,
        mechanisms=P,
        sell=st["sell"],
        is_block=f["is_block"].to_numpy(),
        quantity=st["quantity"],
        quality=quality,
        affirm_type=np.array([P.CPTY_TYPE_AFFIRM[t] for t in cpty_type]),
        cold=(td - onboarded).astype(np.int64) < P.COLD_START_DAYS,
        cross_border=domicile != market,
        early_morning=trades.local_minutes < P.EARLY_MORNING_END,
        t1_transition=t1_transition,
        vol=vol,
        env=env,
        ops=np.array([P.ASSET_OPS_MULT[a] for a in asset]),
        ftd_mult=st["ftd_mult"],
        htb=st["htb"],
        new_issue=st["new_issue"],
        cash_stress=world.account_cash[trades.account],
        notional_rel=notional_rel,
        exec_us=exec_us,
        cutoff_us=calendar.affirmation_cutoff(isd, market).astype(np.int64),
        deadline_us=deadline,
        isd_day=isd,
        ssi_age_days=(exec_us - valid_from) / _DAY_US,
        ssi_verified=is_verified,
        ssi_verified_age_days=np.where(
            is_verified, (exec_us - np.minimum(verified, exec_us)) / _DAY_US, np.inf
        ),
        ssi_next_change_us=next_change,
        ssi_change_rate=ssi.change_rate(trades.cpty, frac),
        available=available,
        incoming=incoming,
        link=link,
        affirm_stress=stress.affirm,
        match_stress=stress.match,
        alloc_stress=stress.alloc,
        scarce=stress.scarce,
    )
