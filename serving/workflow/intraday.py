"""The service's view of our recent trades, for the book's features (the day's state of each
counterparty, the receipt each sell waits on; ``features.compute.book``): the trades the
exception store holds for the last days with their lifecycle and outcome so far, in memory,
read again in a thread of its own. Scoring reads the memory and never waits on the database;
while the store is down the state stays as last read and ``status`` says how old it is.

Each read asks only for the trades changed since the last one (by ``updated_at``, with a
lookback that covers a transaction committed a little after the instant it stamped), and every
few minutes for all of them again, so a change a read missed is picked up then. Of the trades
changed, only those not already held as of that change are read whole, and the state is built
again only when a value it is built from moved: an events call refreshes the book before it
scores, and most events (amendments, SSIs, positions) move none.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from core.catalogue import INTRADAY
from core.errors import StoreUnavailable
from core.instants import NEVER_US, epoch_us
from features.compute.book import BOOK_COLUMNS, BookState
from features.compute.intraday import step_column
from features.compute.receipts import AFFIRMED, FAILED_OUTCOMES, MATCHED, RECEIPT_WINDOW_DAYS
from serving.workflow.store import ExceptionStore

__all__ = ["IntradayBook", "IntradayStatus"]

log = logging.getLogger(__name__)

DAYS = max(4, RECEIPT_WINDOW_DAYS)
"""Trades settling this many days before the store's clock, and after, are held: every trade
whose trade date can be today's, and every buy a sell still to settle can wait on."""
LOOKBACK = dt.timedelta(seconds=10)
FULL_READ_SECONDS = 300.0
_STEPS = tuple(dict.fromkeys((*(b.step for b in INTRADAY), AFFIRMED, MATCHED)))
_COLUMNS = BOOK_COLUMNS
"""What the book holds of each trade: what a state is built from."""


@dataclass(frozen=True)
class IntradayStatus:
    trades: int  # held in memory
    read_at: dt.datetime | None  # the last successful read (wall clock)
    error: str | None  # why the last read failed, if it did


class IntradayBook:
    def __init__(self, store: ExceptionStore, refresh_seconds: float = 1.0) -> None:
        self.store, self.refresh_seconds = store, refresh_seconds
        self._rows: dict[str, tuple[Any, ...]] = {}
        self._changed: dict[str, dt.datetime] = {}  # each held trade's last change, as read
        self._state: BookState | None = None
        self._since: dt.datetime | None = None
        self._full_at = 0.0
        self._read_at: dt.datetime | None = None
        self._error: str | None = None
        self._lock = threading.Lock()  # one read at a time (the thread, an events call)

    def state(self) -> BookState | None:
        """Our trades as last read (None before the first read or while none is held)."""
        return self._state

    def status(self) -> IntradayStatus:
        return IntradayStatus(len(self._rows), self._read_at, self._error)

    def start(self) -> None:
        threading.Thread(target=self._loop, daemon=True, name="intraday").start()

    def _loop(self) -> None:
        while True:
            try:
                self.refresh()
            except StoreUnavailable:
                pass  # kept in status; the state stays as last read
            except Exception:  # a bug: say so, keep the loop
                log.exception("reading today's trades failed")
            time.sleep(self.refresh_seconds)

    def refresh(self) -> None:
        """Read what changed in the store (everything, every ``FULL_READ_SECONDS``)."""
        with self._lock:
            try:
                self._read()
                self._error = None
            except StoreUnavailable as exc:
                self._error = str(exc)
                raise

    def _read(self) -> None:
        clock = self.store.clock()
        if clock is None:
            return
        full = time.monotonic() - self._full_at > FULL_READ_SECONDS
        started = dt.datetime.now(dt.UTC)
        settling_from = clock.date() - dt.timedelta(days=DAYS)
        if full:
            rows = self.store.changed_trades(settling_from)
            self._rows.clear()
            self._changed.clear()
            self._full_at = time.monotonic()
        else:
            rows = self.store.changed_trades(settling_from, self._since, self._changed)
        moved = full  # whether a value the state is built from changed
        for trade_id, changed, payload, lifecycle, outcome, outcome_at in rows:
            row = _row(trade_id, payload, lifecycle, outcome, outcome_at)
            moved = moved or self._rows.get(trade_id) != row
            self._rows[trade_id], self._changed[trade_id] = row, changed
        stale = [t for t, row in self._rows.items() if row[_ISD] < settling_from]
        for trade_id in stale:
            del self._rows[trade_id], self._changed[trade_id]
        if moved or stale:
            self._state = BookState.of(_frame(self._rows)) if self._rows else None
        self._since = started - LOOKBACK
        self._read_at = started


def _us(stamp: str | None) -> int:
    return NEVER_US if stamp is None else epoch_us(dt.datetime.fromisoformat(stamp))


_ISD = _COLUMNS.index("settlement_date")


def _row(
    trade_id: str,
    payload: dict[str, Any],
    lifecycle: dict[str, Any],
    outcome: str | None,
    outcome_at: dt.datetime | None,
) -> tuple[Any, ...]:
    """A trade's values in ``_COLUMNS`` order, from its stored payload, lifecycle and outcome."""
    facts = {
        "trade_id": trade_id,
        "settlement_date": dt.date.fromisoformat(payload["settlement_date"]),
        "trade_date": dt.date.fromisoformat(payload["trade_date"]),
        "execution_us": _us(payload["execution_ts"]),
        **{step_column(step): _us(lifecycle.get(step.field)) for step in _STEPS},
        "outcome_us": NEVER_US if outcome is None or outcome_at is None else epoch_us(outcome_at),
        "outcome_failed": outcome in FAILED_OUTCOMES,
    }
    return tuple(facts[c] if c in facts else payload[c] for c in _COLUMNS)


def _frame(rows: dict[str, tuple[Any, ...]]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(list(rows.values()), columns=list(_COLUMNS))
    for day in ("trade_date", "settlement_date"):
        frame[day] = np.asarray(frame[day], dtype="datetime64[D]")
    return frame
