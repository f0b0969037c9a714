"""Turn the actual path into the public tables: events, inventory, outcomes, and truth."""

from __future__ import annotations

import numpy as np
import pandas as pd

from core.calendar import SettlementCalendar
from features.data.simulator.params import Mechanisms
from features.data.simulator.paths import CAUSES, NEVER, Path
from features.data.simulator.state import ExecState

__all__ = [
    "events_table",
    "inventory_table",
    "outcomes_table",
    "receipts_by_eve",
    "truth_table",
]

_MIN_US = 60_000_000
_AMEND_DETAILS = np.array(
    ["quantity", "price", "settlement instructions", "allocation account"], dtype=object
)


def _utc(us: np.ndarray) -> pd.DatetimeIndex:
    return pd.DatetimeIndex(us.astype("datetime64[us]")).tz_localize("UTC")


_EVENT_TYPES = np.array(
    ["ALLOCATED", "CONFIRMED", "AFFIRMED", "AMENDED", "INSTRUCTED", "MATCHED", "CANCELLED"],
    dtype=object,
)
_DETAILS = np.array([None, "block allocation", *_AMEND_DETAILS, "cancelled by desk"], dtype=object)
_NO_DETAIL, _BLOCK, _CANCELLED_DETAIL = 0, 1, _DETAILS.size - 1


def events_table(
    rng: np.random.Generator,
    trades: pd.DataFrame,
    s: ExecState,
    path: Path,
    cancelled: np.ndarray,
    cancel_us: np.ndarray,
) -> pd.DataFrame:
    """Every trade's lifecycle events, by trade then time: allocation, confirmation,
    affirmation (if it came), amendment (if any), instruction, matching, and the cancellation
    of a cancelled trade, with nothing after it. Types and details are small integer codes
    until the rows are in order, then strings once: six events a trade of object arrays,
    masked and reordered, were the simulator's largest transient."""
    n = s.n
    idx = np.arange(n, dtype=np.int32)
    affirmed = path.affirm_us < NEVER
    amended = path.amended
    amend_detail = 2 + rng.integers(0, _AMEND_DETAILS.size, int(amended.sum()))
    parts = [  # (trades, instants, type, detail codes)
        (idx, path.alloc_us, 0, np.where(s.is_block, _BLOCK, _NO_DETAIL)),
        (idx, path.confirm_us, 1, _NO_DETAIL),
        (idx[affirmed], path.affirm_us[affirmed], 2, _NO_DETAIL),
        (idx[amended], path.amend_us[amended], 3, amend_detail),
        (idx, path.instruct_us, 4, _NO_DETAIL),
        (idx, path.match_us, 5, _NO_DETAIL),
    ]
    c = np.flatnonzero(cancelled).astype(np.int32)
    trade = np.concatenate([p[0] for p in parts])
    ts = np.concatenate([p[1] for p in parts])
    keep = ~cancelled[trade] | (ts < cancel_us[trade])  # nothing happens after a cancellation
    trade = np.concatenate([trade[keep], c])
    ts = np.concatenate([ts[keep], cancel_us[c]])
    kind = np.concatenate(
        [np.full(p[0].size, p[2], dtype=np.int8) for p in parts] + [np.full(c.size, 6, np.int8)]
    )
    detail = np.concatenate(
        [np.broadcast_to(np.asarray(p[3], dtype=np.int8), p[0].shape) for p in parts]
        + [np.full(c.size, _CANCELLED_DETAIL, np.int8)]
    )
    kind = np.concatenate([kind[: keep.size][keep], kind[keep.size :]])
    detail = np.concatenate([detail[: keep.size][keep], detail[keep.size :]])
    del keep
    order = np.lexsort((ts, trade))
    frame = pd.DataFrame(
        {
            "trade_id": trades["trade_id"].to_numpy()[trade[order]],
            "event_ts": _utc(ts[order]),
            "event_type": _EVENT_TYPES[kind[order]],
            "detail": _DETAILS[detail[order]],
        }
    )
    frame["event_ts"] = frame["event_ts"].astype("datetime64[us, UTC]")
    return frame


def receipts_by_eve(rng: np.random.Generator, s: ExecState, path: Path) -> np.ndarray:
    """Per trade: its sell's pending receipt is in by the eve-of-ISD inventory snapshot (a buy
    of ours settling on an earlier date, or an external receipt that came early)."""
    sells = np.flatnonzero(s.sell)
    link = s.link[sells]
    linked_early = (link >= 0) & (s.isd_day[np.maximum(link, 0)] < s.isd_day[sells])
    external_early = (link < 0) & (rng.random(sells.size) < s.mechanisms.EXTERNAL_EARLY_SHARE)
    seen = np.zeros(s.n, dtype=bool)
    seen[sells] = path.arrived[sells] & (linked_early | external_early)
    return seen


def inventory_table(
    rng: np.random.Generator,
    trades: pd.DataFrame,
    s: ExecState,
    path: Path,
    calendar: SettlementCalendar,
    receipt_seen: np.ndarray,
) -> pd.DataFrame:
    """Position snapshots of our sells: just before execution, and on the eve of the ISD
    (``receipt_seen``: from ``receipts_by_eve``)."""
    sells = np.flatnonzero(s.sell)
    market = trades["settlement_market"].to_numpy()[sells]
    arrived_early = receipt_seen[sells]
    avail, inc, qty = s.available[sells], s.incoming[sells], s.quantity[sells]
    after_receipts = avail + arrived_early * inc
    borrowed = path.borrowed[sells] * np.maximum(qty - after_receipts, 0.0)
    eve = calendar.add_business_days(s.isd_day[sells], -1, market)
    eve_us = calendar.local_to_utc(eve, 18 * 60 + 60 * rng.random(sells.size), market).astype(
        np.int64
    )
    frame = pd.DataFrame(
        {
            "account_id": np.tile(trades["account_id"].to_numpy()[sells], 2),
            "instrument_id": np.tile(trades["instrument_id"].to_numpy()[sells], 2),
            "as_of_ts": _utc(np.concatenate([s.exec_us[sells] - _MIN_US, eve_us])),
            "available_qty": np.concatenate([avail, after_receipts + borrowed]),
            "incoming_qty": np.concatenate([inc, inc * ~arrived_early]),
        }
    )
    frame["as_of_ts"] = frame["as_of_ts"].astype("datetime64[us, UTC]")
    frame = frame.drop_duplicates(["account_id", "instrument_id", "as_of_ts"])
    return frame.sort_values("as_of_ts", ignore_index=True)


def _days_late(rng: np.random.Generator, P: Mechanisms, cause: np.ndarray) -> np.ndarray:
    n = cause.size
    p = np.where(
        cause == "LACK_OF_SECURITIES", P.DAYS_LATE_GEOMETRIC_SECURITIES, P.DAYS_LATE_GEOMETRIC
    )
    days = rng.geometric(p)
    tail = rng.random(n) < P.DAYS_LATE_TAIL_SHARE * np.where(
        cause == "LACK_OF_SECURITIES", 2.0, 1.0
    )
    days = np.where(tail, 3 + rng.geometric(0.15, n), days)
    return np.minimum(days, P.DAYS_LATE_MAX).astype(np.int64)


def outcomes_table(
    rng: np.random.Generator,
    trades: pd.DataFrame,
    s: ExecState,
    path: Path,
    cancelled: np.ndarray,
    calendar: SettlementCalendar,
) -> pd.DataFrame:
    n = s.n
    market = trades["settlement_market"].to_numpy()
    failed = path.failed & ~cancelled
    share = path.hazards / path.hazards.sum(axis=1, keepdims=True)
    pick = (rng.random(n)[:, None] > np.cumsum(share, axis=1)).sum(axis=1)
    cause = np.asarray(CAUSES, dtype=object)[np.minimum(pick, len(CAUSES) - 1)]
    days_late = np.where(failed, _days_late(rng, s.mechanisms, cause), 0)
    settle_day = calendar.add_business_days(s.isd_day, days_late, market)
    settle_us = calendar.local_to_utc(settle_day, 7 * 60 + 540 * rng.random(n), market).astype(
        np.int64
    )
    settle_us = np.where(failed, settle_us, np.maximum(settle_us, path.match_us + 10 * _MIN_US))
    status = np.where(cancelled, "CANCELLED", np.where(failed, "FAILED", "SETTLED")).astype(object)
    known = calendar.end_of_day(s.isd_day, market)
    frame = pd.DataFrame(
        {
            "trade_id": trades["trade_id"].to_numpy(),
            "status": status,
            "settled_ts": _utc(
                np.where(cancelled, np.datetime64("NaT"), settle_us.astype("datetime64[us]"))
            ),
            "days_late": days_late,
            "fail_reason": np.where(failed, cause, None),
            "known_ts": _utc(known.astype(np.int64)),
        }
    )
    for col in ("settled_ts", "known_ts"):
        frame[col] = frame[col].astype("datetime64[us, UTC]")
    return frame


def truth_table(
    trades: pd.DataFrame, path: Path, p_at_execution: np.ndarray, p_at_isd_1: np.ndarray
) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "trade_id": trades["trade_id"].to_numpy(),
            "p_fail_final": path.p_fail,
            "p_fail_at_execution": p_at_execution,
            "p_fail_at_isd_1": p_at_isd_1,
            "primary_cause": np.asarray(CAUSES, dtype=object)[path.hazards.argmax(axis=1)],
        }
    )
