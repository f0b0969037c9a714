"""The score journal: what makes a 200 from ``/score`` mean the score is durable.

Every scored batch is appended to a local file and fsynced before the service answers; a
drain (``serving.workflow.drain``) then stores the journal's records in the exception store,
which writes idempotently, so a record stored twice is stored once. A service killed at any
point loses nothing it acknowledged: the next start adopts the dead process's journal and
drains it. When the exception store is down the service keeps scoring into the journal, up to
a bound.

Each worker process writes a segment of its own (``<host>-<pid>-<start>.jsonl``) and holds an
exclusive lock on it for its lifetime, so a segment another process can lock belongs to a
dead one. A line is ``<crc32> <json>``: a line torn by a crash (never acknowledged, since its
fsync had not returned) fails its checksum and is skipped.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import functools
import json
import logging
import math
import os
import socket
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter

from serving.scoring.schemas import Trade
from serving.workflow.store import ScoreRecord

__all__ = ["Entry", "Journal", "decode", "encode"]

log = logging.getLogger(__name__)

ROTATE_BYTES = 16 << 20
"""A drained segment this large is replaced by a new one (and deleted)."""


@functools.cache
def _serializer() -> TypeAdapter[ScoreRecord]:
    return TypeAdapter(ScoreRecord)


def encode(record: ScoreRecord) -> bytes:
    """A score as the journal keeps it: one JSON object, its trade as the contract's fields,
    times in ISO 8601. A number that is not finite is refused (JSON has none; pydantic
    would write it as null, and the record would come back as something it never was)."""
    if not all(map(math.isfinite, _numbers(record))):
        raise ValueError(f"{record.trade_id}: a score with a number that is not finite")
    return _serializer().dump_json(record)


@functools.cache
def _float_fields() -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The float fields of a score and of its trade (read off the types, so a field added
    later is checked too)."""
    scored = tuple(f.name for f in fields(ScoreRecord) if f.type in (float, "float"))
    traded = tuple(n for n, f in Trade.model_fields.items() if f.annotation is float)
    return scored, traded


def _numbers(record: ScoreRecord) -> Iterator[float]:
    scored, traded = _float_fields()
    yield from (getattr(record, name) for name in scored)
    for reason in record.reasons:  # flat: code, feature, value, contribution, text, ...
        yield from (v for v in reason.values() if isinstance(v, float))
    if record.trade is not None:
        yield from (getattr(record.trade, name) for name in traded)


def decode(data: dict[str, Any]) -> ScoreRecord:
    """The score back; raises when the record no longer validates (a poison record)."""
    fields = dict(data)
    fields["trade"] = None if data["trade"] is None else Trade.model_validate(data["trade"])
    fields["scored_at"] = dt.datetime.fromisoformat(data["scored_at"])
    fields["settlement_date"] = dt.date.fromisoformat(data["settlement_date"])
    return ScoreRecord(**fields)


def _line(record: ScoreRecord) -> bytes:
    body = encode(record)
    return b"%08x %s\n" % (zlib.crc32(body), body)


@dataclass(frozen=True)
class Entry:
    """One journal line: where it ends in its segment, and the record it holds (its JSON;
    decoding is the drain's, so that a poison record is its to dead-letter)."""

    segment: Path
    end: int
    data: dict[str, Any]


class _Segment:
    """A journal file, the bytes of it already stored, and (if ours or adopted) its lock."""

    def __init__(self, path: Path, fd: int | None) -> None:
        self.path, self.fd = path, fd
        self.drained = 0  # bytes of complete lines already in the store

    def unread(self, limit: int) -> Iterator[Entry]:
        """The complete, intact lines after ``drained``, at most ``limit``."""
        try:
            with self.path.open("rb") as handle:
                handle.seek(self.drained)
                offset = self.drained
                for n, raw in enumerate(handle):
                    if n >= limit or not raw.endswith(b"\n"):
                        return  # the limit, or a line still being written (or torn)
                    offset += len(raw)
                    data = _parse(raw)
                    if data is None:
                        log.warning("%s: a torn line at byte %d skipped", self.path, offset)
                        continue
                    yield Entry(self.path, offset, data)
        except FileNotFoundError:
            return

    def exhausted(self) -> bool:
        """Every complete line is stored (what follows the last one was torn by a crash,
        or is still being written by its owner)."""
        return next(self.unread(1), None) is None

    def size(self) -> int:
        return self.path.stat().st_size if self.path.exists() else 0


def _parse(raw: bytes) -> dict[str, Any] | None:
    crc, _, body = raw.rstrip(b"\n").partition(b" ")
    try:
        if int(crc, 16) != zlib.crc32(body):
            return None
        data: dict[str, Any] = json.loads(body)
    except ValueError:
        return None
    return data


def _lock(path: Path) -> int | None:
    """An exclusive lock on the file, or None when a live process holds it."""
    fd = os.open(path, os.O_RDWR | os.O_APPEND)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


class Journal:
    """This process's journal under ``directory``: append durably, hand pending entries to
    the drain, and adopt the segments of processes that died."""

    def __init__(self, directory: Path, max_pending: int) -> None:
        self.directory, self.max_pending = directory, max_pending
        directory.mkdir(parents=True, exist_ok=True)
        os.chmod(directory, 0o700)
        self._lock = threading.Lock()
        self._appended = 0  # records appended by this process
        self._stored = 0  # of them, and of adopted ones, stored since
        self._adopted = 0  # records found in adopted segments
        self._own = self._open_segment()
        self._segments: list[_Segment] = [self._own]
        self._others: dict[Path, _Segment] = {}  # live processes' segments, read not owned
        self.adopt()

    def _open_segment(self) -> _Segment:
        name = f"{socket.gethostname()}-{os.getpid()}-{time.time_ns()}.jsonl"
        path = self.directory / name
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_EXCL, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return _Segment(path, fd)

    # writing -----------------------------------------------------------------------------

    def append(self, records: list[ScoreRecord]) -> None:
        """Write the records and fsync them: when this returns, they survive a crash."""
        if not records:
            return
        lines = b"".join(_line(r) for r in records)
        with self._lock:
            assert self._own.fd is not None
            written = os.write(self._own.fd, lines)
            if written != len(lines):
                raise OSError(f"{self._own.path}: wrote {written} of {len(lines)} bytes")
            os.fdatasync(self._own.fd)
            self._appended += len(records)

    def pending(self) -> int:
        """Records appended (or adopted) and not yet stored."""
        return self._appended + self._adopted - self._stored

    def full(self) -> bool:
        return self.pending() >= self.max_pending

    # draining ----------------------------------------------------------------------------

    def adopt(self) -> int:
        """Take over the segments of dead processes (their locks are free); the records
        found in them."""
        found = 0
        known = {s.path for s in self._segments}
        for path in sorted(self.directory.glob("*.jsonl")):
            if path in known:
                continue
            fd = _lock(path)
            if fd is None:
                continue  # a live process's: read by others(), never adopted
            segment = _Segment(path, fd)
            count = sum(1 for _ in segment.unread(limit=1 << 62))
            with self._lock:
                self._segments.append(segment)
                self._others.pop(path, None)
                self._adopted += count
            found += count
            log.info("adopted %s: %d records to store", path.name, count)
        return found

    def unread(self, limit: int) -> list[Entry]:
        """Entries of this process's segments (own and adopted) not yet stored."""
        out: list[Entry] = []
        for segment in list(self._segments):
            out += segment.unread(limit - len(out))
            if len(out) >= limit:
                break
        return out

    def others(self, limit: int) -> list[Entry]:
        """Entries of live processes' segments this process has not stored yet (their own
        drains store them too: a record stored twice is stored once)."""
        mine = {s.path for s in self._segments}
        for path in self.directory.glob("*.jsonl"):
            if path not in mine and path not in self._others:
                self._others[path] = _Segment(path, None)
        out: list[Entry] = []
        for path, segment in list(self._others.items()):
            if not path.exists():
                del self._others[path]
                continue
            out += segment.unread(limit - len(out))
        return out

    def stored(self, entries: list[Entry]) -> None:
        """These entries are in the store: move each segment's mark past them, and retire
        segments that are done with."""
        ends: dict[Path, int] = {}
        for entry in entries:
            ends[entry.segment] = max(ends.get(entry.segment, 0), entry.end)
        with self._lock:
            for segment in self._segments:
                if segment.path in ends and ends[segment.path] > segment.drained:
                    self._stored += sum(1 for e in entries if e.segment == segment.path)
                    segment.drained = ends[segment.path]
            for path, end in ends.items():
                if path in self._others:
                    self._others[path].drained = max(self._others[path].drained, end)
            self._retire()

    def _retire(self) -> None:
        """Delete adopted segments once stored; start a new own segment once the current
        one is large and stored."""
        for segment in list(self._segments):
            if segment is self._own:
                if segment.size() >= ROTATE_BYTES and segment.exhausted():
                    self._own = self._open_segment()
                    self._segments.append(self._own)
                    self._close(segment)
            elif segment.exhausted():
                self._close(segment)

    def _close(self, segment: _Segment) -> None:
        segment.path.unlink(missing_ok=True)
        if segment.fd is not None:
            os.close(segment.fd)
        self._segments.remove(segment)

    def close(self) -> None:
        """Release this process's segments (what is not stored yet stays on disk, for the
        next process to adopt); an own segment with nothing left is deleted."""
        with self._lock:
            for segment in list(self._segments):
                if segment.exhausted():
                    segment.path.unlink(missing_ok=True)
                if segment.fd is not None:
                    os.close(segment.fd)
            self._segments.clear()
