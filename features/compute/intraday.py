"""The day's operational state as of the scoring instant: for the entities of
``core.catalogue.INTRADAY`` (the trade's counterparty), how today's other trades are getting
on — what share still waits on a step (affirmation, matching), how long those have waited,
and how long the ones done took. A counterparty whose trades of the morning are still
unaffirmed is having a bad day, whatever its history says.

"Today" is the trade date that is the local date of the scoring instant in the trade's
settlement market; "today's trades" of an entity are those with that trade date executed by
the instant. The trade being scored is never one of them: at execution the service has not
stored it yet, so training leaves it out too.

Every figure comes from sums over events up to the instant (trades executed, trades done with
a step, their execution and step times), each a searchsorted into arrays sorted by (entity,
day, time): exact at any instant, in training over the whole dataset and in the service over
the trades the exception store holds for the last days (``serving.workflow.intraday``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.catalogue import INTRADAY, Backlog
from core.instants import NEVER_US
from core.lifecycle import Step
from features.compute.lookup import Lookup
from features.request.dates import local_days

__all__ = [
    "INTRADAY_COLUMNS",
    "IntradayState",
    "intraday_request_fields",
    "step_column",
]

_SPAN_US = 1 << 38
"""Room for instants (µs) in a sort key after the group: 3.2 days from the UTC midnight
before the group's trade date, past the end of any instant whose local date is that day
(facts later than that cannot count for the day and are kept at the end)."""
_DAY_US = 86_400_000_000
_MINUTE_US = 60e6


def step_column(step: Step) -> str:
    """A state's column holding when each trade first reached ``step`` (int64 UTC µs)."""
    return f"{step.feature}_us"


INTRADAY_COLUMNS = (
    "trade_id",
    "trade_date",
    "settlement_market",
    *dict.fromkeys(b.key for b in INTRADAY),
    "execution_us",
    *dict.fromkeys(step_column(b.step) for b in INTRADAY),
)
"""What a state is built from: one row per trade; instants as int64 UTC µs (NEVER_US: not
yet), ``trade_date`` as datetime64[D] (or dates)."""


def _base_us(day: np.ndarray) -> np.ndarray:
    """The UTC midnight before each trade date: where a day's instants are counted from."""
    return (day - 1) * _DAY_US


@dataclass(frozen=True)
class _Sorted:
    """Facts of one kind (executions, or one step) sorted by (group, instant), with the
    running sums the figures need (minutes counted from each group's base)."""

    key: np.ndarray  # group * _SPAN_US + (instant - base), ascending
    executed: np.ndarray  # running sum of execution minutes, leading 0: [i] sums the first i
    done: np.ndarray  # the same of the step's minutes (executions: ``executed`` itself)

    @classmethod
    def of(
        cls, group: np.ndarray, at_us: np.ndarray, execution_us: np.ndarray, base_us: np.ndarray
    ) -> _Sorted:
        seen = at_us != NEVER_US
        rel = np.minimum(at_us[seen] - base_us[seen], _SPAN_US - 1)
        key = group[seen] * _SPAN_US + rel
        order = np.argsort(key, kind="stable")

        def running(minutes_from: np.ndarray) -> np.ndarray:
            minutes = (minutes_from[seen] - base_us[seen]) / _MINUTE_US
            return np.concatenate([[0.0], np.cumsum(minutes[order], dtype=np.float64)])

        executed = running(execution_us)
        done = executed if at_us is execution_us else running(at_us)
        return cls(key[order], executed, done)

    def upto(self, group: np.ndarray, rel_us: np.ndarray) -> tuple[np.ndarray, ...]:
        """(count, sum of execution minutes, sum of step minutes) of each group's facts at or
        before each instant (``rel_us``: from the group's base); a group < 0 has none."""
        group = np.maximum(group, 0)
        lo = np.searchsorted(self.key, group * _SPAN_US, side="left")
        hi = np.searchsorted(self.key, group * _SPAN_US + rel_us, side="right")
        return (
            (hi - lo).astype(np.float64),
            self.executed[hi] - self.executed[lo],
            self.done[hi] - self.done[lo],
        )


class IntradayState:
    """Trades with their lifecycle instants, indexed for the intraday figures of any instant."""

    def __init__(self, trades: pd.DataFrame) -> None:
        missing = [c for c in INTRADAY_COLUMNS if c not in trades.columns]
        if missing:
            raise KeyError(f"intraday state needs columns {missing}")
        self.size = len(trades)
        self._trade = Lookup(trades["trade_id"].to_numpy(dtype=object))
        day = np.asarray(trades["trade_date"], dtype="datetime64[D]").astype(np.int64)
        self._day0 = int(day.min(initial=0))
        self._days = int(day.max(initial=0)) - self._day0 + 1
        self._execution = trades["execution_us"].to_numpy(np.int64)
        self._base = _base_us(day)
        self._entities: dict[str, Lookup] = {}
        self._pairs: dict[str, Lookup] = {}  # (entity, day) pair -> group
        self._group: dict[str, np.ndarray] = {}
        self._executions: dict[str, _Sorted] = {}
        self._steps: dict[str, _Sorted] = {}
        self._step_us: dict[str, np.ndarray] = {}
        for backlog in INTRADAY:
            key, step = backlog.key, step_column(backlog.step)
            if key not in self._group:
                codes, entities = pd.factorize(trades[key].to_numpy(dtype=object))
                self._entities[key] = Lookup(np.asarray(entities, dtype=object))
                group, pairs = pd.factorize(self._pair(codes, day))
                self._pairs[key] = Lookup(np.asarray(pairs, dtype=np.int64))
                self._group[key] = group.astype(np.int64)
                self._executions[key] = _Sorted.of(
                    self._group[key], self._execution, self._execution, self._base
                )
            self._step_us[step] = trades[step].to_numpy(np.int64)
            self._steps[f"{key} {step}"] = _Sorted.of(
                self._group[key], self._step_us[step], self._execution, self._base
            )

    def _pair(self, codes: np.ndarray, day: np.ndarray) -> np.ndarray:
        """(entity, trade date) as one int64: -1 for an unknown entity or a day outside."""
        offset = day - self._day0
        inside = (codes >= 0) & (offset >= 0) & (offset < self._days)
        return np.where(inside, codes.astype(np.int64) * self._days + offset, -1)

    def features(
        self,
        trade_id: np.ndarray,
        entities: Mapping[str, np.ndarray],
        market: np.ndarray,
        scoring_us: np.ndarray,
    ) -> dict[str, np.ndarray]:
        """Each intraday feature per scored trade (NaN where the entity has no other trade
        today); ``entities`` holds each backlog's key column (counterparty_id, ...)."""
        at = np.asarray(scoring_us, dtype=np.int64)
        today = local_days(at, np.asarray(market, dtype=object)).astype(np.int64)
        rel = at - _base_us(today)
        at_min = rel / _MINUTE_US
        me = self._trade(np.asarray(trade_id, dtype=object))  # -1: not held
        out: dict[str, np.ndarray] = {}
        for key in self._group:
            codes = self._entities[key](np.asarray(entities[key], dtype=object))
            pair = self._pair(codes, today)
            group = np.where(pair >= 0, self._pairs[key](pair), -1)
            none = group < 0
            n, n_exec, _ = self._executions[key].upto(group, rel)
            n[none] = 0.0
            # the scored trade itself is not one of "the other trades"
            own = np.flatnonzero((me >= 0) & ~none)
            own = own[self._group[key][me[own]] == group[own]]
            held = me[own]
            base = self._base[held]
            own_exec = (self._execution[held] - base) / _MINUTE_US
            executed = self._execution[held] <= at[own]
            n[own] -= executed
            n_exec[own] -= executed * own_exec
            for backlog in INTRADAY:
                if backlog.key != key:
                    continue
                step = step_column(backlog.step)
                k, k_exec, k_done = self._steps[f"{key} {step}"].upto(group, rel)
                k[none] = 0.0
                step_us = self._step_us[step][held]
                stepped = (step_us != NEVER_US) & (step_us <= at[own])
                k[own] -= stepped
                k_exec[own] -= stepped * own_exec
                k_done[own] -= np.where(stepped, step_us - base, 0) / _MINUTE_US
                out |= _figures(backlog, n, n_exec, k, k_exec, k_done, at_min)
        return out


def _figures(
    backlog: Backlog,
    n: np.ndarray,
    n_exec: np.ndarray,
    k: np.ndarray,
    k_exec: np.ndarray,
    k_done: np.ndarray,
    at_min: np.ndarray,
) -> dict[str, np.ndarray]:
    """A backlog's three features from the sums up to the instant: ``n`` trades executed
    (execution minutes summing to ``n_exec``), ``k`` of them done with the step (execution
    minutes ``k_exec``, step minutes ``k_done``); ``at_min`` the instant in minutes."""
    share, waiting_minutes, lag_minutes = backlog.names
    waiting = n - k
    with np.errstate(invalid="ignore", divide="ignore"):
        return {
            share: np.where(n > 0, waiting / n, np.nan),
            waiting_minutes: np.where(waiting > 0, at_min - (n_exec - k_exec) / waiting, np.nan),
            lag_minutes: np.where(k > 0, (k_done - k_exec) / k, np.nan),
        }


def intraday_request_fields(
    state: IntradayState | None,
    trade_id: np.ndarray,
    entities: Mapping[str, np.ndarray],
    market: np.ndarray,
    scoring_us: np.ndarray,
) -> dict[str, np.ndarray]:
    """The intraday request fields (``req_<feature>``); NaN for every trade without a state."""
    if state is None:
        nan = np.full(len(scoring_us), np.nan)
        return {f"req_{name}": nan for b in INTRADAY for name in b.names}
    return {
        f"req_{k}": v for k, v in state.features(trade_id, entities, market, scoring_us).items()
    }
