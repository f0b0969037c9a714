"""Our book as the scorer's side knows it at an instant: the trades with their lifecycle and
outcomes so far, indexed for the features that look at other trades than the one scored —
the day's state of its counterparty (``intraday``) and, for a sell, the receipt it waits on
(``receipts``). Training builds it over a whole dataset, the service over the trades its
exception store holds for the last days (``serving.workflow.intraday``); both compute every
value as of the scoring instant.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from core.catalogue import INTRADAY
from core.instants import NEVER_US, instants_us
from core.lifecycle import CANCELLED
from features.compute.intraday import (
    INTRADAY_COLUMNS,
    IntradayState,
    intraday_request_fields,
    step_column,
)
from features.compute.receipts import (
    AFFIRMED,
    FAILED_OUTCOMES,
    MATCHED,
    RECEIPT_COLUMNS,
    Receipts,
    receipt_request_fields,
)
from features.data.contract import Dataset
from features.data.derive import first_event_ts
from features.request.lifecycle import Lifecycles

__all__ = ["BOOK_COLUMNS", "BOOK_KEYS", "BookState", "book_request_fields", "dataset_book"]

BOOK_COLUMNS = tuple(dict.fromkeys((*INTRADAY_COLUMNS, *RECEIPT_COLUMNS)))
"""What a book is built from: one row per trade (see each part for its columns)."""
BOOK_KEYS = tuple(
    dict.fromkeys(
        (
            "trade_id",
            *(b.key for b in INTRADAY),
            "settlement_market",
            "instrument_id",
            "side",
            "settlement_date",
        )
    )
)
"""The scored trades' fields the book's features are found by (with ``execution_us``)."""


@dataclass(frozen=True)
class BookState:
    intraday: IntradayState
    receipts: Receipts

    @classmethod
    def of(cls, trades: pd.DataFrame) -> BookState:
        """From a frame holding ``BOOK_COLUMNS``."""
        return cls(IntradayState(trades), Receipts(trades))


def book_request_fields(
    state: BookState | None, trades: Mapping[str, np.ndarray], scoring_us: np.ndarray
) -> dict[str, np.ndarray]:
    """The book's request fields (``req_<feature>``) of the scored ``trades`` (``BOOK_KEYS``
    and ``execution_us``); NaN for every trade without a book."""
    at = np.asarray(scoring_us, dtype=np.int64)
    return intraday_request_fields(
        state.intraday if state else None,
        trades["trade_id"],
        {key: trades[key] for key in dict.fromkeys(b.key for b in INTRADAY)},
        trades["settlement_market"],
        at,
    ) | receipt_request_fields(
        state.receipts if state else None,
        trades["instrument_id"],
        trades["side"],
        trades["settlement_date"],
        trades["execution_us"],
        at,
    )


def dataset_book(dataset: Dataset, lifecycles: Lifecycles | None = None) -> BookState:
    """The book of every trade of a dataset, from its trades, lifecycle events and outcomes
    (each outcome counts from its ``known_ts``; a cancellation from its event).
    ``lifecycles``: the dataset's, over its trades in their order, when the caller has them
    already (their first instant of each step is what the book needs of the events)."""
    trades = dataset["trades"]
    events = dataset.get("events")
    ids = trades["trade_id"]
    if lifecycles is None:
        lifecycles = Lifecycles.of(ids.to_numpy(), events)
    frame = trades[[c for c in BOOK_COLUMNS if c in trades.columns]].copy()
    frame["execution_us"] = instants_us(trades["execution_ts"])
    for step in dict.fromkeys((*(b.step for b in INTRADAY), AFFIRMED, MATCHED)):
        frame[step_column(step)] = lifecycles.first_us[step.request]
    outcome_us = np.full(len(trades), NEVER_US)
    failed = np.zeros(len(trades), dtype=bool)
    outcomes = dataset.get("outcomes")
    if outcomes is not None:
        row = pd.Index(ids).get_indexer(pd.Index(outcomes["trade_id"]))
        known = row >= 0
        outcome_us[row[known]] = instants_us(outcomes["known_ts"])[known]
        failed[row[known]] = outcomes["status"].isin(FAILED_OUTCOMES).to_numpy()[known]
    cancelled = (
        instants_us(first_event_ts(events, CANCELLED, ids))
        if events is not None
        else np.full(len(ids), NEVER_US)
    )
    first = (cancelled != NEVER_US) & ((outcome_us == NEVER_US) | (cancelled < outcome_us))
    outcome_us[first], failed[first] = cancelled[first], True
    frame["outcome_us"], frame["outcome_failed"] = outcome_us, failed
    return BookState.of(frame)
