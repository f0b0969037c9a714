"""What happens after execution, and the fail hazards it leads to.

``draw_path`` is used twice over: once for the world that is written (the actual path) and
``replicas`` more times from the same execution state, whose mean P(fail) is the oracle
``p_fail_at_execution``. ``draw_path_after_eve`` draws replicas that agree with the actual path
up to the ISD-1 snapshot: their mean is the oracle ``p_fail_at_isd_1``. The lag distributions
and hazards are defined once, so no oracle can drift from the world.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any, TypeVar

import numpy as np
from scipy.special import ndtr, ndtri

from core.vocabulary import FAIL_REASONS
from features.data.simulator.state import ExecState

__all__ = ["CAUSES", "NEVER", "Path", "draw_path", "draw_path_after_eve"]

CAUSES = FAIL_REASONS  # hazard columns, in contract order
_SEC, _CASH, _SSI, _MATCH, _CPTY, _OTHER = range(len(CAUSES))
_MIN_US = 60_000_000
NEVER = np.iinfo(np.int64).max // 2
_NEVER_MIN = 1e9  # a lag this long (1,900 years) stands for never, and stays inside int64 µs


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


_LIFECYCLE = (
    "alloc_us",
    "confirm_us",
    "affirm_us",
    "amended",
    "amend_us",
    "instruct_us",
    "match_us",
)
"""The lifecycle fields of a Path, as the lifecycle draws return them."""


def _minutes(x: np.ndarray) -> np.ndarray:
    return (x * _MIN_US).astype(np.int64)


def _block_alloc_mu(s: ExecState) -> np.ndarray:
    P = s.mechanisms
    return np.asarray(
        np.log(P.BLOCK_ALLOC_MEDIAN_MIN) + 0.5 * np.log(s.quality) + np.log(s.alloc_stress)
    )


def _alloc_mean(s: ExecState) -> np.ndarray:
    """Mean allocation lag (minutes) of a trade that is not a block."""
    return np.asarray(s.mechanisms.ALLOC_LAG_MIN * s.alloc_stress)


def _instruct_mean(s: ExecState) -> np.ndarray:
    """Mean lag (minutes) from affirmation to our settlement instruction."""
    return np.asarray(s.mechanisms.INSTRUCT_LAG_MIN * s.alloc_stress)


def _never_affirmed(s: ExecState) -> np.ndarray:
    P = s.mechanisms
    return np.asarray(P.AFFIRM_NEVER * s.quality**1.3 * np.where(s.cold, 2.0, 1.0))


def _affirm_median(s: ExecState) -> np.ndarray:
    P = s.mechanisms
    return np.asarray(P.AFFIRM_MEDIAN_MIN * s.quality**0.9 * s.affirm_type * s.affirm_stress)


def _amend_prob(s: ExecState) -> np.ndarray:
    P = s.mechanisms
    return np.asarray(
        P.AMEND_PROB * np.sqrt(s.quality) * np.where(s.is_block, P.AMEND_BLOCK_MULT, 1.0)
    )


def _match_scale(s: ExecState, amended: np.ndarray, in_time: np.ndarray) -> np.ndarray:
    """Matching lag multiplier on the MATCH_MEDIAN_MIN lognormal."""
    P = s.mechanisms
    return np.asarray(
        np.where(amended, P.MATCH_AMENDED_MULT, 1.0)
        * np.where(in_time, 1.0, P.MATCH_UNAFFIRMED_MULT)
        * s.quality**0.6
        * np.where(s.cross_border, P.MATCH_CROSS_BORDER_MULT, 1.0)
        * np.where(s.t1_transition, P.MATCH_T1_TRANSITION_MULT, 1.0)
        * np.where(s.cold, P.COLD_START_MATCH_MULT, 1.0)
        * np.where(s.early_morning, P.EARLY_MORNING_MULT, 1.0)
        * s.ops
        * s.match_stress
    )


def _match_mu(s: ExecState, amended: np.ndarray, in_time: np.ndarray) -> np.ndarray:
    """Log-median of the matching lag (minutes)."""
    P = s.mechanisms
    return np.log(P.MATCH_MEDIAN_MIN * _match_scale(s, amended, in_time))


def _lifecycle(s: ExecState, rng: np.random.Generator) -> dict[str, np.ndarray]:
    P = s.mechanisms
    n = s.n
    block_lag = rng.lognormal(_block_alloc_mu(s), P.BLOCK_ALLOC_SIGMA)
    alloc = s.exec_us + _minutes(
        np.where(s.is_block, block_lag, rng.exponential(_alloc_mean(s), n))
    )
    confirm = alloc + _minutes(rng.exponential(P.CONFIRM_LAG_MIN, n))
    never = rng.random(n) < _never_affirmed(s)
    affirm = np.where(
        never, NEVER, confirm + _minutes(rng.lognormal(np.log(_affirm_median(s)), P.AFFIRM_SIGMA))
    )
    in_time = affirm <= s.cutoff_us
    amended = rng.random(n) < _amend_prob(s)
    amend = s.exec_us + (rng.random(n) * (s.deadline_us - s.exec_us)).astype(np.int64)
    manual = s.cutoff_us + _minutes(rng.exponential(P.MANUAL_INSTRUCT_MEAN_MIN, n))
    instruct = np.where(
        in_time,
        affirm + _minutes(rng.exponential(_instruct_mean(s), n)),
        np.minimum(affirm, manual),
    )
    lag = rng.lognormal(np.log(P.MATCH_MEDIAN_MIN), P.MATCH_SIGMA, n) * _match_scale(
        s, amended, in_time
    )
    match = np.maximum(instruct, np.where(amended, amend, 0)) + _minutes(lag)
    return dict(
        zip(_LIFECYCLE, (alloc, confirm, affirm, amended, amend, instruct, match), strict=True)
    )


def _ssi_hazard(s: ExecState, change: np.ndarray) -> np.ndarray:
    P = s.mechanisms
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


def _receipt_fails(s: ExecState) -> np.ndarray:
    """Probability that a pending receipt not in our book fails."""
    P = s.mechanisms
    return (
        P.EXTERNAL_INCOMING_FAIL
        * np.where(s.htb, 2.0, 1.0)
        * np.where(s.scarce, P.SCARCITY_RECEIPT_MULT, 1.0)
    )


def _ssi_change_prob(s: ExecState, since_us: np.ndarray) -> np.ndarray:
    """Probability that a new SSI version takes effect between ``since_us`` and the deadline."""
    window_days = np.maximum(s.deadline_us - since_us, 0) / (1_440 * _MIN_US)
    return np.asarray(1.0 - np.exp(-s.ssi_change_rate * window_days))


def _operational_hazards(
    s: ExecState, life: dict[str, np.ndarray], change: np.ndarray
) -> np.ndarray:
    """Every cause's hazard but lack of securities, which waits on the buys' fails."""
    P = s.mechanisms
    q, buy, vol = s.quality, ~s.sell, np.sqrt(s.vol)
    h = np.zeros((s.n, len(CAUSES)))
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
    return np.asarray(h * s.env[:, None])


def _p_fail(h: np.ndarray) -> np.ndarray:
    """P(fail) from per-cause hazards (rows: trades)."""
    return np.asarray(1.0 - np.exp(-h.sum(axis=1)))


def _settle(
    s: ExecState,
    life: dict[str, np.ndarray],
    change: np.ndarray,
    h: np.ndarray,
    u: np.ndarray,
    arrived: np.ndarray,
    borrowed: np.ndarray,
) -> Path:
    """Add the sells' lack-of-securities hazard to ``h`` and draw every fail with ``u``."""
    P = s.mechanisms
    covered = (s.available + arrived * s.incoming >= s.quantity) | borrowed
    h[:, _SEC] = s.sell * np.where(covered, P.H_SECURITIES_BASE, P.H_UNCOVERED) * s.env
    p_fail = _p_fail(h)
    return Path(
        **life,
        ssi_change=change,
        arrived=arrived,
        borrowed=borrowed,
        hazards=h,
        p_fail=p_fail,
        failed=u < p_fail,
    )


def draw_path(s: ExecState, rng: np.random.Generator, *, actual: bool) -> Path:
    """One post-execution future of every trade, its hazards and its fail draws."""
    P = s.mechanisms
    n = s.n
    life = _lifecycle(s, rng)
    if actual:
        change = s.ssi_changed_by(s.deadline_us)
    else:
        change = rng.random(n) < _ssi_change_prob(s, s.exec_us)
    ext_fail = rng.random(n) < _receipt_fails(s)
    borrow_p = (
        P.BORROW_PROB * np.where(s.htb, P.BORROW_HTB_MULT, 1.0) * np.where(s.new_issue, 0.5, 1.0)
    )
    borrowed = rng.random(n) < borrow_p
    u = rng.random(n)
    h = _operational_hazards(s, life, change)
    # Buys first: their fails decide whether the receipts our sells count on arrive (fail chains).
    failed = u < _p_fail(h)
    arrived = np.where(s.link >= 0, ~failed[np.maximum(s.link, 0)], ~ext_fail)
    return _settle(s, life, change, h, u, arrived, borrowed)


# --- the future after a snapshot, given everything before it ---------------------------------


def _lognormal_survival(mu: np.ndarray, sigma: float, elapsed_min: np.ndarray) -> np.ndarray:
    """P(lag > elapsed) for a lognormal lag in minutes (1 where nothing has elapsed)."""
    z = (np.log(np.maximum(elapsed_min, 1e-12)) - mu) / sigma
    return np.where(elapsed_min > 0, ndtr(-z), 1.0)


def _lognormal_beyond(
    rng: np.random.Generator, mu: np.ndarray, sigma: float, elapsed_min: np.ndarray
) -> np.ndarray:
    """Lognormal lags (minutes) drawn given that they exceed ``elapsed_min``: inverse CDF on
    the upper tail, so that far-tail conditions keep their precision."""
    tail = _lognormal_survival(mu, sigma, elapsed_min) * (1.0 - rng.random(mu.shape))
    return np.minimum(np.exp(mu - sigma * ndtri(np.maximum(tail, 1e-300))), _NEVER_MIN)


_Arrays = TypeVar("_Arrays", ExecState, Path)


def _rows(arrays: _Arrays, idx: np.ndarray) -> _Arrays:
    """The same dataclass holding only rows ``idx`` of every per-trade array."""
    values = {f.name: getattr(arrays, f.name) for f in fields(arrays)}
    taken: dict[str, Any] = {k: v[idx] for k, v in values.items() if isinstance(v, np.ndarray)}
    if "n" in values:
        taken["n"] = idx.size
    return replace(arrays, **taken)


def _lifecycle_after(
    s: ExecState, a: Path, t: np.ndarray, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Lifecycle instants that equal ``a``'s up to ``t`` and are drawn, conditioned on what was
    (not) seen by ``t``, after it. Exponential lags restart at ``t`` (memoryless); lognormal
    ones are drawn from their tail beyond the time already elapsed."""
    P = s.mechanisms
    n = s.n

    def elapsed(since: np.ndarray) -> np.ndarray:
        return np.asarray((t - since) / _MIN_US)

    block_lag = _lognormal_beyond(rng, _block_alloc_mu(s), P.BLOCK_ALLOC_SIGMA, elapsed(s.exec_us))
    alloc = np.where(
        a.alloc_us <= t,
        a.alloc_us,
        np.where(
            s.is_block,
            s.exec_us + _minutes(block_lag),
            t + _minutes(rng.exponential(_alloc_mean(s), n)),
        ),
    )
    confirm = np.where(
        a.confirm_us <= t,
        a.confirm_us,
        np.maximum(alloc, t) + _minutes(rng.exponential(P.CONFIRM_LAG_MIN, n)),
    )

    # Not affirmed by t: either never, or later; Bayes on the time already waited.
    mu_affirm = np.log(_affirm_median(s))
    waiting = _lognormal_survival(mu_affirm, P.AFFIRM_SIGMA, elapsed(confirm))
    prior = _never_affirmed(s)
    never = rng.random(n) < prior / (prior + (1.0 - prior) * waiting)
    later = confirm + _minutes(_lognormal_beyond(rng, mu_affirm, P.AFFIRM_SIGMA, elapsed(confirm)))
    affirm = np.where(a.affirm_us <= t, a.affirm_us, np.where(never, NEVER, later))
    in_time = affirm <= s.cutoff_us

    manual = np.maximum(s.cutoff_us, t) + _minutes(rng.exponential(P.MANUAL_INSTRUCT_MEAN_MIN, n))
    instruct = np.where(
        a.instruct_us <= t,
        a.instruct_us,
        np.where(
            in_time,
            np.maximum(affirm, t) + _minutes(rng.exponential(_instruct_mean(s), n)),
            np.minimum(affirm, manual),
        ),
    )

    # An amendment restarts matching, so a trade matched by t is not amended after it; for an
    # unmatched one, still waiting makes a coming amendment likelier.
    amended_by_t = a.amended & (a.amend_us <= t)
    span = np.maximum(s.deadline_us - s.exec_us, 1)
    done = np.clip((t - s.exec_us) / span, 0.0, 1.0)
    p = _amend_prob(s)
    prior_later = p * (1.0 - done) / (1.0 - p * done)
    unamended_waiting = np.where(
        instruct <= t,
        _lognormal_survival(
            _match_mu(s, np.zeros(n, bool), in_time),
            P.MATCH_SIGMA,
            elapsed(instruct),
        ),
        1.0,
    )
    amend_later = (
        (a.match_us > t)
        & ~amended_by_t
        & (rng.random(n) < prior_later / (prior_later + (1.0 - prior_later) * unamended_waiting))
    )
    amended = amended_by_t | amend_later
    amend = np.where(
        amend_later,
        t + (rng.random(n) * np.maximum(s.deadline_us - t, 0)).astype(np.int64),
        a.amend_us,
    )

    start = np.maximum(instruct, np.where(amended, amend, 0))
    mu_match = _match_mu(s, amended, in_time)
    lag = _lognormal_beyond(rng, mu_match, P.MATCH_SIGMA, elapsed(start))
    match = np.where(a.match_us <= t, a.match_us, start + _minutes(lag))
    return dict(
        zip(_LIFECYCLE, (alloc, confirm, affirm, amended, amend, instruct, match), strict=True)
    )


def draw_path_after_eve(
    s: ExecState,
    actual: Path,
    eve_us: np.ndarray,
    receipt_seen: np.ndarray,
    rng: np.random.Generator,
) -> Path:
    """One future after the ISD-1 snapshot (``eve_us``) that agrees with ``actual`` on
    everything a perfect observer has seen by then; the mean P(fail) over such replicas is
    the oracle at ISD-1.

    Seen by then: every lifecycle event and SSI version up to ``eve_us``; the eve's inventory
    (taken earlier that evening), which shows any borrow and the receipts already in
    (``receipt_seen``), and the outcome of buys settling before this ISD. Still to come: the
    rest of the lifecycle, SSI changes, receipts due on the ISD, and the label's own draw.
    A trade matched by then has nothing left in its lifecycle that moves its risk, so only
    unmatched trades' lifecycles are drawn again (the others keep their actual instants).
    """
    P = s.mechanisms
    n = s.n
    life = {name: getattr(actual, name).copy() for name in _LIFECYCLE}
    unmatched = np.flatnonzero(actual.match_us > eve_us)
    drawn = _lifecycle_after(_rows(s, unmatched), _rows(actual, unmatched), eve_us[unmatched], rng)
    for name, values in drawn.items():
        life[name][unmatched] = values
    change = s.ssi_changed_by(eve_us) | (
        rng.random(n) < _ssi_change_prob(s, np.maximum(eve_us, s.exec_us))
    )
    # An external receipt not in by the eve has failed, or is one of those arriving on the ISD.
    prior = _receipt_fails(s)
    late_share = 1.0 - P.EXTERNAL_EARLY_SHARE
    ext_fail = rng.random(n) < prior / (prior + (1.0 - prior) * late_share)
    u = rng.random(n)
    h = _operational_hazards(s, life, change)
    failed = u < _p_fail(h)
    buy = np.maximum(s.link, 0)
    linked_earlier = (s.link >= 0) & (s.isd_day[buy] < s.isd_day)
    arrived = np.select(
        [receipt_seen, linked_earlier, s.link >= 0],
        [np.ones(n, bool), actual.arrived, ~failed[buy]],
        ~ext_fail,
    )
    return _settle(s, life, change, h, u, arrived, actual.borrowed)
