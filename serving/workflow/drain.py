"""From the journal into the exception store, in the background and on demand.

A batch that the store refuses for something other than being down is stored record by
record: a record that cannot be stored on its own is a poison record, kept as a dead letter
with its error, and the rest of the batch proceeds. While the store is down nothing is lost:
the journal keeps the records and the drain tries again, backing off.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

from core.errors import StoreUnavailable
from serving.workflow.journal import Entry, Journal, decode
from serving.workflow.store import ExceptionStore, ScoreRecord

__all__ = ["Drain", "DrainStatus"]

log = logging.getLogger(__name__)

BATCH = 5_000
"""Records per store transaction."""
INTERVAL_S = 1.0
"""Between two drains: the records of a second go into the store in one transaction, away
from the requests (a read of the store drains first, so nothing waits on this)."""
ADOPT_EVERY_S = 5.0
"""How often segments of processes that died are looked for."""
_BACKOFF_S = (0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class DrainStatus:
    pending: int  # records in the journal not yet stored
    max_pending: int
    last_error: str | None  # why the store refused last, None once it answers again
    dead_letters: int  # records kept as dead letters by this process


class Drain:
    """Stores the journal's records; ``start`` runs it every ``INTERVAL_S`` in a thread."""

    def __init__(self, journal: Journal, store: ExceptionStore) -> None:
        self.journal, self.store = journal, store
        self._lock = threading.Lock()  # one drain at a time: the thread's, or a caller's
        self._stop = threading.Event()
        self._wake = threading.Event()  # set by close: stop waiting for the interval
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self.dead_letters = 0

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, daemon=True, name="journal-drain")
        self._thread.start()

    def status(self) -> DrainStatus:
        return DrainStatus(
            self.journal.pending(), self.journal.max_pending, self.last_error, self.dead_letters
        )

    def step(self, others: bool = False) -> int:
        """Store up to ``BATCH`` pending records (with ``others``, those of live processes'
        journals too); how many were stored. Raises ``StoreUnavailable`` when the store does
        not answer."""
        with self._lock:
            entries = self.journal.unread(BATCH)
            if others:
                entries += self.journal.others(BATCH)
            if not entries:
                return 0
            try:
                self._store(entries)
            except StoreUnavailable as exc:
                self.last_error = str(exc)
                raise
            self.last_error = None
            self.journal.stored(entries)
            return len(entries)

    def catch_up(self, deadline_s: float = 30.0) -> None:
        """Store everything journaled so far, here and in live processes' journals: what was
        acknowledged before this call is in the store when it returns."""
        until = time.monotonic() + deadline_s
        while self.step(others=True) and time.monotonic() < until:
            pass

    def _store(self, entries: list[Entry]) -> None:
        good: list[tuple[Entry, ScoreRecord]] = []
        for entry in entries:
            try:
                good.append((entry, decode(entry.data)))
            except Exception as exc:  # no longer a valid record: keep it, go on
                self._dead(entry, exc)
        if not good:
            return
        try:
            self.store.record([record for _, record in good])
            return
        except StoreUnavailable:
            raise
        except Exception as exc:
            log.warning("storing %d records failed (%s); storing them one by one", len(good), exc)
        for entry, record in good:
            try:
                self.store.record([record])
            except StoreUnavailable:
                raise
            except Exception as exc:
                self._dead(entry, exc)

    def _dead(self, entry: Entry, exc: Exception) -> None:
        error = f"{type(exc).__name__}: {exc}"[:2_000]
        key = entry.data.get("trade_id")
        source = f"journal:{entry.segment.name}:{entry.end}"
        trade = key[:64] if isinstance(key, str) else None
        self.store.dead_letter(source, "score", trade, entry.data, error)
        self.dead_letters += 1
        log.error("a score for %s cannot be stored, kept as a dead letter: %s", key, error)

    def _run(self) -> None:
        failures, adopted_at = 0, time.monotonic()
        while not self._stop.is_set():
            try:
                if time.monotonic() - adopted_at > ADOPT_EVERY_S:
                    self.journal.adopt()
                    adopted_at = time.monotonic()
                full = self.step() >= BATCH
                failures = 0
            except StoreUnavailable as exc:
                failures += 1
                if failures == 1:
                    log.warning("%s; %d scores wait in the journal", exc, self.journal.pending())
                self._stop.wait(_BACKOFF_S[min(failures, len(_BACKOFF_S)) - 1])
                continue
            except Exception:  # a bug: keep the records, say so, try again later
                log.exception("the journal drain failed")
                self._stop.wait(_BACKOFF_S[-1])
                continue
            if not full:  # a full batch: more are waiting, go on at once
                self._wake.wait(INTERVAL_S)
                self._wake.clear()

    def close(self, deadline_s: float = 10.0) -> None:
        """Stop the thread and store what is left, within ``deadline_s``; what could not be
        stored stays in the journal for the next start (said at WARNING)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(deadline_s)
        until = time.monotonic() + deadline_s
        try:
            while self.journal.pending() and time.monotonic() < until:
                if not self.step():
                    break
        except StoreUnavailable as exc:
            log.warning("%s", exc)
        if left := self.journal.pending():
            log.warning("%d scores stay in the journal for the next start to store", left)
        self.journal.close()
