"""Scores reach the exception store off the request path: a background thread writes them in
batches, one transaction each, so a request never waits for a disk sync."""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence

from serving.workflow.store import ExceptionStore, ScoreRecord

__all__ = ["ScoreRecorder"]

log = logging.getLogger(__name__)


class ScoreRecorder:
    """Collects scores and stores them every ``interval`` seconds (or ``batch`` scores). A
    failed write is retried with the same scores: writes are idempotent."""

    def __init__(
        self, store: ExceptionStore, interval: float = 0.2, batch: int = 5_000, retry: float = 2.0
    ) -> None:
        self.store, self.interval, self.batch, self.retry = store, interval, batch, retry
        self._queue: queue.Queue[ScoreRecord] = queue.Queue()
        self._idle = threading.Event()
        self._idle.set()
        self._stop = threading.Event()
        self.last_error: str | None = None
        self._thread = threading.Thread(target=self._run, daemon=True, name="score-recorder")
        self._thread.start()

    def submit(self, records: Sequence[ScoreRecord]) -> None:
        if records:
            self._idle.clear()
        for record in records:
            self._queue.put(record)

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until everything submitted so far is stored."""
        return self._idle.wait(timeout)

    def close(self, timeout: float = 30.0) -> None:
        self.flush(timeout)
        self._stop.set()
        self._thread.join(timeout)

    def _run(self) -> None:
        pending: list[ScoreRecord] = []
        while not self._stop.is_set():
            deadline = time.monotonic() + self.interval
            while len(pending) < self.batch and (left := deadline - time.monotonic()) > 0:
                try:
                    pending.append(self._queue.get(timeout=left))
                except queue.Empty:
                    break
            if not pending:
                if self._queue.empty():
                    self._idle.set()
                continue
            try:
                self.store.record(pending)
                pending, self.last_error = [], None
            except Exception as exc:  # keep the scores; try again
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                log.warning("storing %d scores failed (%s); retrying", len(pending), exc)
                self._stop.wait(self.retry)
