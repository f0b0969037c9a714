"""Write several Parquet files so that readers see all of the new ones or none of them, and
read them under the same lock.

A write stages every file beside the directory and fsyncs it, then records its intent (the
staged files, the files to remove) in ``.commit.json`` inside the directory and fsyncs that,
and only then moves the files into place. A crash before the intent is on disk changes
nothing; a crash after it is rolled forward by the next writer or reader, who finds the
intent and completes the moves. Writers hold an exclusive lock on the directory (a file
beside it, so it exists before the directory does) and readers a shared one, across
processes and threads; a caller that reads, changes and writes a table holds ``locked`` over
the whole of it. The lock is re-entrant within a thread.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

__all__ = ["locked", "write_parquet_files"]

INTENT = ".commit.json"

_held = threading.local()  # directory -> [fd, depth, exclusive] of this thread's lock


def _lock_path(directory: Path) -> Path:
    return directory.parent / f".{directory.name}.lock"


@contextmanager
def locked(directory: Path | str, *, shared: bool = False) -> Iterator[None]:
    """Hold the directory's lock: exclusive to change its files, ``shared`` to read them. An
    interrupted write found on the way in is completed first."""
    directory = Path(directory).resolve()
    held: dict[Path, list[int | bool]] = getattr(_held, "locks", None) or {}
    _held.locks = held
    if directory in held:  # re-entered: the outer hold covers this one
        if not shared and not held[directory][2]:
            raise RuntimeError(f"{directory}: an exclusive lock asked for under a shared one")
        held[directory][1] = int(held[directory][1]) + 1
        try:
            yield
        finally:
            held[directory][1] = int(held[directory][1]) - 1
        return
    directory.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(_lock_path(directory), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        if (directory / INTENT).exists():
            fcntl.flock(fd, fcntl.LOCK_EX)  # a shared holder upgrades to roll forward
            _roll_forward(directory)
            if shared:
                fcntl.flock(fd, fcntl.LOCK_SH)
        held[directory] = [fd, 1, not shared]
        try:
            yield
        finally:
            del held[directory]
    finally:
        os.close(fd)  # releases the lock


def write_parquet_files(
    tables: Mapping[str, pa.Table], directory: Path | str, *, remove: Iterable[str] = ()
) -> Path:
    """Write ``{name}.parquet`` per table under ``directory`` and delete the files in ``remove``,
    all or none, even across a crash."""
    directory = Path(directory).resolve()
    with locked(directory):
        staging = Path(tempfile.mkdtemp(prefix=f".{directory.name}-", dir=directory.parent))
        intended = False
        try:
            for name in tables:  # each table read once, as it is written, and let go
                path = staging / f"{name}.parquet"
                pq.write_table(tables[name], path)
                _fsync(path)
            _fsync(staging)
            directory.mkdir(exist_ok=True)
            intent = {
                "staging": str(staging),
                "move": [f"{name}.parquet" for name in tables],
                "remove": list(remove),
            }
            tmp = directory / f"{INTENT}.tmp"
            tmp.write_text(json.dumps(intent))
            _fsync(tmp)
            tmp.replace(directory / INTENT)
            _fsync(directory)  # from here on, the write happens
            intended = True
            _roll_forward(directory)
        finally:
            if not intended:  # else the staged files are the roll-forward's to move
                shutil.rmtree(staging, ignore_errors=True)
    return directory


def _roll_forward(directory: Path) -> None:
    """Complete the write whose intent is recorded (each step may already be done)."""
    intent = json.loads((directory / INTENT).read_text())
    staging = Path(intent["staging"])
    for name in intent["remove"]:
        if name not in intent["move"]:
            (directory / name).unlink(missing_ok=True)
    for name in intent["move"]:
        staged = staging / name
        if staged.exists():
            staged.replace(directory / name)
    _fsync(directory)
    (directory / INTENT).unlink()
    _fsync(directory)
    shutil.rmtree(staging, ignore_errors=True)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
