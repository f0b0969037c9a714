"""Latent multipliers of the mechanisms the default world leaves off: bad operational days,
counterparties that affirm late at some hours, instruments in scarcity spells, client accounts
that allocate late. Every draw comes from a stream of its own, made whatever the strengths, so
a world with all of them off is the world without them, bit for bit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.markets import MARKETS
from features.data.simulator.params import Mechanisms
from features.data.simulator.trades import Trades
from features.data.simulator.world import DESKS, World

__all__ = ["Stress", "draw_stress"]


@dataclass(frozen=True)
class Stress:
    """Per trade: what the latent mechanisms multiply (1 where they are off)."""

    affirm: np.ndarray  # the counterparty's affirmation lag
    match: np.ndarray  # the matching lag (the counterparty's side and the CSD's)
    alloc: np.ndarray  # the allocation and instruction lags (the client and our desk)
    scarce: np.ndarray  # bool: the instrument is in a scarcity spell on the trade date


def _bad_days(
    rng: np.random.Generator, share: float, mult: float, parties: int, days: int
) -> np.ndarray:
    """(party, day) -> multiplier: ``mult`` on a ``share`` of them, 1 on the rest."""
    bad = rng.random((parties, days)) < share
    return np.where(bad, mult, 1.0)


def _spells(rng: np.random.Generator, enter: float, exit_: float, n: int, days: int) -> np.ndarray:
    """(instrument, day) -> in a scarcity spell: a two-state Markov chain per instrument,
    started from its stationary share."""
    u = rng.random((days, n))
    stationary = enter / (enter + exit_) if enter > 0 else 0.0
    state = np.zeros((days, n), dtype=bool)
    on = u[0] < stationary
    for t in range(days):  # a loop over days, vectorised over instruments
        if t:
            on = np.where(on, u[t] >= exit_, u[t] < enter)
        state[t] = on
    return state.T


def _home_minutes(trades: Trades, world: World) -> np.ndarray:
    """Local time of day of each execution in the counterparty's home market."""
    home = world.counterparties["domicile_market"].to_numpy()[trades.cpty]
    executed = trades.frame["execution_ts"]
    minutes = np.empty(len(home))
    for code, market in MARKETS.items():
        rows = np.flatnonzero(home == code)
        local = executed.iloc[rows].dt.tz_convert(market.tz)
        minutes[rows] = (local.dt.hour * 60 + local.dt.minute).to_numpy()
    return minutes


def draw_stress(
    rng: np.random.Generator, P: Mechanisms, world: World, trades: Trades, n_days: int
) -> Stress:
    day = trades.day
    market = pd.Index(list(MARKETS)).get_indexer(
        pd.Index(trades.frame["settlement_market"].to_numpy())
    )
    desk = pd.Index(list(DESKS)).get_indexer(pd.Index(trades.frame["desk_id"].to_numpy()))
    n_cpty, n_instr = len(world.counterparties), len(world.instruments)

    cpty_day = _bad_days(rng, P.CPTY_BAD_DAY_SHARE, P.CPTY_BAD_DAY_MULT, n_cpty, n_days)
    market_day = _bad_days(rng, P.MARKET_BAD_DAY_SHARE, P.MARKET_BAD_DAY_MULT, len(MARKETS), n_days)
    desk_day = _bad_days(rng, P.DESK_BAD_DAY_SHARE, P.DESK_BAD_DAY_MULT, len(DESKS), n_days)
    late_day = np.exp(P.CPTY_LATE_DAY_SIGMA * rng.normal(0.0, 1.0, n_cpty))
    account = np.exp(P.ACCOUNT_ALLOC_SIGMA * rng.normal(0.0, 1.0, len(world.accounts)))
    scarce = _spells(rng, P.SCARCITY_ENTER, P.SCARCITY_EXIT, n_instr, n_days)

    home = _home_minutes(trades, world)
    off_hours = (
        (trades.local_minutes >= P.LATE_DAY_START)
        | (home < P.HOME_HOURS[0])
        | (home >= P.HOME_HOURS[1])
    )
    return Stress(
        affirm=cpty_day[trades.cpty, day] * np.where(off_hours, late_day[trades.cpty], 1.0),
        match=cpty_day[trades.cpty, day] * market_day[market, day],
        alloc=desk_day[desk, day] * account[trades.account],
        scarce=scarce[trades.instr, day],
    )
