"""The audit trail's writer: entries batched into the exception store by a thread of their
own, or written at once for changes whose entry must be stored before the answer.

While the store is down, entries wait in memory (at most ``MAX_WAITING``; past it the oldest
are dropped, counted and logged at ERROR) and are written when it answers again.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from core.errors import StoreUnavailable
from serving.workflow.store import ExceptionStore
from serving.workflow.store.users import AuditEntry

__all__ = ["AuditTrail"]

log = logging.getLogger("failcast.audit")
FLUSH_SECONDS = 0.5
MAX_WAITING = 100_000


class AuditTrail:
    def __init__(self, store: ExceptionStore) -> None:
        self.store = store
        self._waiting: deque[AuditEntry] = deque()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.dropped = 0
        self._thread = threading.Thread(target=self._loop, daemon=True, name="audit")

    def start(self) -> None:
        self._thread.start()

    def add(self, entry: AuditEntry) -> None:
        """Queue an entry for the next batch (no I/O: for the event loop)."""
        with self._lock:
            if len(self._waiting) >= MAX_WAITING:
                self._waiting.popleft()
                self.dropped += 1
                if self.dropped in (1, 1_000) or self.dropped % 100_000 == 0:
                    log.error("audit entries dropped while the store is down: %d", self.dropped)
            self._waiting.append(entry)

    def write(self, entry: AuditEntry) -> None:
        """Store an entry now; when the store is down, queue it (the change it records was
        refused by the same store, or is retried by its own outbox)."""
        try:
            self.store.append_audit([entry])
        except StoreUnavailable as exc:
            log.warning("audit entry queued: %s", exc)
            self.add(entry)

    def flush(self) -> None:
        with self._lock:
            batch = list(self._waiting)
            self._waiting.clear()
        if not batch:
            return
        try:
            self.store.append_audit(batch)
        except Exception:
            with self._lock:
                self._waiting.extendleft(reversed(batch))
            raise

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        try:
            self.flush()
        except StoreUnavailable as exc:
            log.error("%d audit entries not stored at shutdown: %s", len(self._waiting), exc)

    def _loop(self) -> None:
        down = False
        while not self._stop.wait(FLUSH_SECONDS):
            try:
                self.flush()
                down = False
            except StoreUnavailable as exc:
                if not down:
                    log.warning("audit entries wait in memory: %s", exc)
                down = True
            except Exception:  # a bug: say so, keep the loop
                log.exception("the audit flush failed")
