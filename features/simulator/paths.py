"""What happens after execution, and the fail hazards it leads to.

``draw_path`` is used twice over: once for the world that is written (the actual path) and
``replicas`` more times from the same execution state, whose mean P(fail) is the oracle
``p_fail_at_execution``. One function for both, so the oracle cannot drift from the world.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from features.contract import FAIL_REASONS
from features.simulator import params as P
from features.simulator.state import ExecState

__all__ = ["CAUSES", "NEVER", "Path", "draw_path"]

CAUSES = FAIL_REASONS  # hazard columns, in contract order
_SEC, _CASH, _SSI, _MATCH, _CPTY, _OTHER = range(len(CAUSES))
_MIN_US = 60_000_000
NEVER = np.iinfo(np.int64).max // 2


@dataclass
class Path:
    alloc_us: np.ndarray
    confirm_us: np.ndarray
    affirm_us: np.ndarray  # NEVER when never affirmed
    amended: np.ndarray
    amend_us: np.ndarray
    instruct_us: np.ndarray
    match_us: np.ndarray
    ssi_change: np.ndarray
    arrived: np.ndarray  # incoming receipts arrived in time
    borrowed: np.ndarray
    hazards: np.ndarray  # (n, causes)
    p_fail: np.ndarray
    failed: np.ndarray


def _minutes(x: np.ndarray) -> np.ndarray:
    return (x * _MIN_US).astype(np.int64)


def _lifecycle(s: ExecState, rng: np.random.Generator) -> dict[str, np.ndarray]:
    n, q = s.n, s.quality
    block_lag = rng.lognormal(
        np.log(P.BLOCK_ALLOC_MEDIAN_MIN) + 0.5 * np.log(q), P.BLOCK_ALLOC_SIGMA
    )
    alloc = s.exec_us + _minutes(
        np.where(s.is_block, block_lag, rng.exponential(P.ALLOC_LAG_MIN, n))
    )
    confirm = alloc + _minutes(rng.exponential(P.CONFIRM_LAG_MIN, n))
    never = rng.random(n) < P.AFFIRM_NEVER * q**1.3 * np.where(s.cold, 2.0, 1.0)
    median = P.AFFIRM_MEDIAN_MIN * q**0.9 * s.affirm_type
    affirm = np.where(
        never, NEVER, confirm + _minutes(rng.lognormal(np.log(median), P.AFFIRM_SIGMA))
    )
    in_time = affirm <= s.cutoff_us
    amended = rng.random(n) < P.AMEND_PROB * np.sqrt(q) * np.where(
        s.is_block, P.AMEND_BLOCK_MULT, 1.0
    )
    amend = s.exec_us + (rng.random(n) * (s.deadline_us - s.exec_us)).astype(np.int64)
    manual = s.cutoff_us + _minutes(rng.exponential(P.MANUAL_INSTRUCT_MEAN_MIN, n))
    instruct = np.where(
        in_time, affirm + _minutes(rng.exponential(10.0, n)), np.minimum(affirm, manual)
    )
    lag = (
        rng.lognormal(np.log(P.MATCH_MEDIAN_MIN), P.MATCH_SIGMA, n)
        * np.where(amended, P.MATCH_AMENDED_MULT, 1.0)
        * np.where(in_time, 1.0, P.MATCH_UNAFFIRMED_MULT)
        * q**0.6
        * np.where(s.cross_border, P.MATCH_CROSS_BORDER_MULT, 1.0)
        * np.where(s.t1_transition, P.MATCH_T1_TRANSITION_MULT, 1.0)
        * np.where(s.cold, P.COLD_START_MATCH_MULT, 1.0)
        * np.where(s.early_morning, P.EARLY_MORNING_MULT, 1.0)
        * s.ops
    )
    match = np.maximum(instruct, np.where(amended, amend, 0)) + _minutes(lag)
    return {
        "alloc_us": alloc,
        "confirm_us": confirm,
        "affirm_us": affirm,
        "affirmed_in_time": in_time,
        "amended": amended,
        "amend_us": amend,
        "instruct_us": instruct,
        "match_us": match,
    }


def _ssi_hazard(s: ExecState, change: np.ndarray) -> np.ndarray:
    recent = s.ssi_age_days < P.SSI_RECENT_DAYS
    at_exec = np.select(
        [
            recent & ~s.ssi_verified,
            recent,
            ~s.ssi_verified,
            s.ssi_verified_age_days > P.SSI_STALE_DAYS,
        ],
        [P.H_SSI_RECENT_UNVERIFIED, P.H_SSI_RECENT_VERIFIED, P.H_SSI_UNVERIFIED, P.H_SSI_STALE],
        default=P.H_SSI_BASE,
    )
    scale = s.quality**0.7 * np.where(s.cold, P.COLD_START_SSI_MULT, 1.0)
    return at_exec * scale + np.where(change, P.H_SSI_CHANGE_IN_WINDOW, 0.0)


def draw_path(s: ExecState, rng: np.random.Generator, *, actual: bool) -> Path:
    """One post-execution future of every trade, its hazards and its fail draws."""
    n, q = s.n, s.quality
    life = _lifecycle(s, rng)
    if actual:
        change = s.ssi_change_actual
    else:
        window_days = np.maximum(s.deadline_us - s.exec_us, 0) / (1_440 * _MIN_US)
        change = rng.random(n) < 1.0 - np.exp(-s.ssi_change_rate * window_days)
    ext_fail = rng.random(n) < P.EXTERNAL_INCOMING_FAIL * np.where(s.htb, 2.0, 1.0)
    borrow_p = (
        P.BORROW_PROB * np.where(s.htb, P.BORROW_HTB_MULT, 1.0) * np.where(s.new_issue, 0.5, 1.0)
    )
    borrowed = rng.random(n) < borrow_p
    u = rng.random(n)

    h = np.zeros((n, len(CAUSES)))
    vol = np.sqrt(s.vol)
    buy = ~s.sell
    h[:, _CASH] = buy * P.H_CASH * s.cash_stress * np.clip(s.notional_rel**0.25, 0.3, 4.0) * vol
    h[:, _SSI] = _ssi_hazard(s, change) * s.ops
    late = life["match_us"] > s.deadline_us
    h[:, _MATCH] = np.where(late, P.H_LATE_MATCH, P.H_MATCH_BASE)
    h[:, _CPTY] = (
        P.H_COUNTERPARTY
        * q**1.2
        * np.where(buy, 1.4 * np.sqrt(s.ftd_mult), 0.6)
        * np.where(s.cross_border, P.CROSS_BORDER_MULT, 1.0)
        * vol
        * s.ops
    )
    h[:, _OTHER] = P.H_OTHER * np.where(s.early_morning, P.EARLY_MORNING_MULT, 1.0) * vol * s.ops

    # Buys first: their fails decide whether the receipts our sells count on arrive (fail chains).
    h *= s.env[:, None]
    failed = u < 1.0 - np.exp(-h.sum(axis=1))
    arrived = np.where(s.link >= 0, ~failed[np.maximum(s.link, 0)], ~ext_fail)
    covered = (s.available + arrived * s.incoming >= s.quantity) | borrowed
    h[:, _SEC] = s.sell * np.where(covered, P.H_SECURITIES_BASE, P.H_UNCOVERED) * s.env
    p_fail = 1.0 - np.exp(-h.sum(axis=1))
    return Path(
        alloc_us=life["alloc_us"],
        confirm_us=life["confirm_us"],
        affirm_us=life["affirm_us"],
        amended=life["amended"],
        amend_us=life["amend_us"],
        instruct_us=life["instruct_us"],
        match_us=life["match_us"],
        ssi_change=change,
        arrived=arrived,
        borrowed=borrowed,
        hazards=h,
        p_fail=p_fail,
        failed=u < p_fail,
    )
