"""The post-trade lifecycle simulator: a believable world of trades, lifecycles and fails.

Every mechanism of DESIGN.md is planted in latent state and is visible to a model only through
the public tables; ``truth`` holds the probabilities the labels were drawn from.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from core.calendar import SettlementCalendar
from core.markets import market_holidays
from core.stages import stage_instants
from features.data.contract import Dataset
from features.data.simulator.config import SimulationConfig
from features.data.simulator.paths import draw_path, draw_path_after_eve
from features.data.simulator.ssi import draw_ssi
from features.data.simulator.state import build_state
from features.data.simulator.stress import draw_stress
from features.data.simulator.tables import (
    events_table,
    inventory_table,
    outcomes_table,
    receipts_by_eve,
    truth_table,
)
from features.data.simulator.trades import draw_trades
from features.data.simulator.world import draw_world

__all__ = ["SimulationConfig", "holidays_table", "simulate"]

# Appending a stream leaves the earlier ones (and so the world) unchanged.
_STREAMS = (
    "world",
    "trades",
    "ssi",
    "state",
    "actual",
    "replicas",
    "tables",
    "eve_replicas",
    "stress",
)


def holidays_table(first_year: int, last_year: int) -> pd.DataFrame:
    rows = market_holidays(range(first_year, last_year + 1))
    frame = pd.DataFrame(rows, columns=["market", "date", "name"])
    frame["date"] = pd.to_datetime(frame["date"]).astype("datetime64[ns]")
    frame["market"] = frame["market"].astype(object)
    return frame


def simulate(
    config: SimulationConfig | None = None, on_step: Callable[[str, float], None] | None = None
) -> Dataset:
    """Draw a contract-valid dataset (with ``truth``); deterministic for ``config.seed``.

    ``on_step(name, fraction_done)`` reports progress.
    """
    config = config or SimulationConfig()
    P = config.mechanisms
    report = on_step or (lambda name, frac: None)
    rngs = dict(
        zip(
            _STREAMS,
            (
                np.random.default_rng(s)
                for s in np.random.SeedSequence(config.seed).spawn(len(_STREAMS))
            ),
            strict=True,
        )
    )

    years = config.days // 240 + 2
    holidays = holidays_table(config.start.year - 1, config.start.year + years)
    calendar = SettlementCalendar(holidays)
    first = np.datetime64(config.start, "D")
    days = np.busday_offset(
        first,
        np.arange(config.days),
        roll="forward",
        busdaycal=np.busdaycalendar(holidays=calendar.holidays("US")),
    )

    report("world", 0.0)
    world = draw_world(
        rngs["world"],
        P,
        n_counterparties=config.n_counterparties,
        n_instruments=config.n_instruments,
        accounts_per_desk=config.accounts_per_desk,
        start=config.start,
        days=days,
        sec_dir=config.sec_ftd_dir,
    )
    report("trades", 0.05)
    trades = draw_trades(
        rngs["trades"], P, world, calendar, days, config.trades_per_day, config.t1_switch
    )
    report("ssi", 0.2)
    start_us = int(first.astype("datetime64[us]").astype(np.int64))
    end_us = int((days[-1] + np.timedelta64(10, "D")).astype("datetime64[us]").astype(np.int64))
    ssi = draw_ssi(rngs["ssi"], P, world, start_us, end_us)
    report("state", 0.25)
    stress = draw_stress(rngs["stress"], P, world, trades, days.size)
    state = build_state(
        rngs["state"], P, world, trades, ssi, stress, calendar, days, config.t1_switch
    )
    report("actual", 0.3)
    actual = draw_path(state, rngs["actual"], actual=True)
    p_sum = np.zeros(state.n)
    for r in range(config.replicas):
        report("replicas", 0.35 + 0.25 * r / config.replicas)
        p_sum += draw_path(state, rngs["replicas"], actual=False).p_fail
    report("tables", 0.6)
    rng = rngs["tables"]
    cancelled = rng.random(state.n) < P.CANCEL_SHARE
    cancel_us = state.exec_us + (rng.random(state.n) * (state.deadline_us - state.exec_us)).astype(
        np.int64
    )
    frame = trades.frame
    events = events_table(rng, frame, state, actual, cancelled, cancel_us)
    receipt_seen = receipts_by_eve(rng, state, actual)
    inventory = inventory_table(rng, frame, state, actual, calendar, receipt_seen)
    outcomes = outcomes_table(rng, frame, state, actual, cancelled, calendar)
    eve_us = stage_instants(frame, calendar, "ISD_1")
    p_eve = np.zeros(state.n)
    for r in range(config.replicas):
        report("replicas after the eve", 0.7 + 0.25 * r / config.replicas)
        p_eve += draw_path_after_eve(
            state, actual, eve_us, receipt_seen, rngs["eve_replicas"]
        ).p_fail
    dataset: Dataset = {
        "instruments": world.instruments,
        "counterparties": world.counterparties,
        "trades": frame,
        "events": events,
        "ssi": ssi.frame,
        "inventory": inventory,
        "holidays": holidays,
        "outcomes": outcomes,
        "truth": truth_table(frame, actual, p_sum / config.replicas, p_eve / config.replicas),
    }
    report("done", 1.0)
    return dataset
