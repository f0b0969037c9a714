"""Per-trade facts with the instant each became known, derived once from a raw dataset."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np
import pandas as pd

from core.calendar import SettlementCalendar
from core.instants import NEVER_US, instants_us
from core.stages import stage_starts
from features.data.contract import Dataset
from features.data.derive import first_event_ts

__all__ = ["TradeFacts", "trade_facts"]


@dataclass(frozen=True)
class TradeFacts:
    """Arrays aligned on trades; ``*_us`` are int64 UTC microseconds (NEVER_US when unknown)."""

    trade_id: np.ndarray
    account_id: np.ndarray
    counterparty_id: np.ndarray
    instrument_id: np.ndarray
    desk_id: np.ndarray
    notional: np.ndarray
    execution_us: np.ndarray
    outcome_us: np.ndarray  # when a SETTLED/FAILED outcome became known
    failed: np.ndarray
    fail_reason: np.ndarray
    affirm_known_us: np.ndarray  # when on-time or late affirmation became known
    affirm_late: np.ndarray
    affirmed_us: np.ndarray  # first AFFIRMED event
    instructed_us: np.ndarray  # first INSTRUCTED event
    match_known_us: np.ndarray  # when matching on time or late became known
    match_late: np.ndarray  # not matched by the eve of the ISD (23:00 local, the ISD_1 stage)
    matched_us: np.ndarray  # first MATCHED event
    horizon_us: int  # the latest instant anything in the dataset became known

    @property
    def has_outcome(self) -> np.ndarray:
        return np.asarray(self.outcome_us != NEVER_US)

    def to_frame(self) -> pd.DataFrame:
        return pd.DataFrame(
            {f.name: getattr(self, f.name) for f in fields(self) if f.name != "horizon_us"}
        )

    @classmethod
    def from_frame(cls, frame: pd.DataFrame, horizon_us: int) -> TradeFacts:
        columns = {f.name: frame[f.name].to_numpy() for f in fields(cls) if f.name != "horizon_us"}
        return cls(**columns, horizon_us=horizon_us)

    def extended(self, other: TradeFacts) -> TradeFacts:
        """These facts followed by ``other``'s (trades this set does not hold)."""
        columns = {
            f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
            for f in fields(self)
            if f.name != "horizon_us"
        }
        return TradeFacts(**columns, horizon_us=max(self.horizon_us, other.horizon_us))

    def with_outcomes(self, outcomes: pd.DataFrame) -> TradeFacts:
        """These facts with settled/failed outcomes applied (trade ids must be known)."""
        row = pd.Index(self.trade_id).get_indexer(pd.Index(outcomes["trade_id"]))
        decided = outcomes["status"].isin(["SETTLED", "FAILED"]).to_numpy()
        outcome_us, failed, reason = (
            self.outcome_us.copy(),
            self.failed.copy(),
            self.fail_reason.copy(),
        )
        outcome_us[row] = np.where(decided, instants_us(outcomes["known_ts"]), NEVER_US)
        failed[row] = (outcomes["status"] == "FAILED").to_numpy()
        reason[row] = outcomes["fail_reason"].to_numpy()
        horizon = max(self.horizon_us, int(outcome_us[row].max(initial=NEVER_US)))
        return replace(
            self, outcome_us=outcome_us, failed=failed, fail_reason=reason, horizon_us=horizon
        )


def trade_facts(dataset: Dataset, calendar: SettlementCalendar) -> TradeFacts:
    trades = dataset["trades"]
    empty_outcomes = pd.DataFrame(
        {
            "trade_id": [],
            "status": [],
            "fail_reason": [],
            "known_ts": pd.DatetimeIndex([], tz="UTC"),
        }
    )
    outcomes = dataset.get("outcomes", empty_outcomes).set_index("trade_id")
    events = dataset.get("events")
    outcome = outcomes.reindex(trades["trade_id"])
    decided = outcome["status"].isin(["SETTLED", "FAILED"]).to_numpy()
    outcome_us = np.where(decided, instants_us(outcome["known_ts"]), NEVER_US)

    cutoff_us = calendar.affirmation_cutoff(
        trades["settlement_date"].to_numpy("datetime64[D]"), trades["settlement_market"].to_numpy()
    ).astype(np.int64)
    eve_us = stage_starts(
        trades["settlement_date"].to_numpy("datetime64[D]"),
        trades["settlement_market"].to_numpy(),
        calendar,
    )["ISD_1"]

    def first(event_type: str) -> np.ndarray:
        if events is None:
            return np.full(len(trades), NEVER_US)
        return instants_us(first_event_ts(events, event_type, trades["trade_id"]))

    affirmed_us, cancelled_us = first("AFFIRMED"), first("CANCELLED")
    instructed_us, matched_us = first("INSTRUCTED"), first("MATCHED")
    on_time = (affirmed_us != NEVER_US) & (affirmed_us <= cutoff_us)
    # A trade cancelled before its cutoff was never late; it is left out of affirmation facts.
    withdrawn = ~on_time & (cancelled_us != NEVER_US) & (cancelled_us <= cutoff_us)
    # Matching likewise, by the eve of the ISD.
    matched_in_time = (matched_us != NEVER_US) & (matched_us <= eve_us)
    unmatched = ~matched_in_time & (cancelled_us != NEVER_US) & (cancelled_us <= eve_us)
    execution_us = instants_us(trades["execution_ts"])

    known = [execution_us.max(initial=0), outcome_us.max(initial=0)]
    if events is not None:
        known.append(instants_us(events["event_ts"]).max(initial=0))
    return TradeFacts(
        trade_id=trades["trade_id"].to_numpy(),
        account_id=trades["account_id"].to_numpy(),
        counterparty_id=trades["counterparty_id"].to_numpy(),
        instrument_id=trades["instrument_id"].to_numpy(),
        desk_id=trades["desk_id"].to_numpy(),
        notional=trades["notional"].to_numpy(np.float64),
        execution_us=execution_us,
        outcome_us=outcome_us,
        failed=(outcome["status"] == "FAILED").to_numpy(),
        fail_reason=outcome["fail_reason"].to_numpy(),
        affirm_known_us=np.where(on_time, affirmed_us, np.where(withdrawn, NEVER_US, cutoff_us)),
        affirm_late=~on_time,
        affirmed_us=affirmed_us,
        instructed_us=instructed_us,
        match_known_us=np.where(matched_in_time, matched_us, np.where(unmatched, NEVER_US, eve_us)),
        match_late=~matched_in_time,
        matched_us=matched_us,
        horizon_us=int(max(known)),
    )
