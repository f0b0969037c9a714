"""Handing freed memory back to the system between the stages of a long job.

A query engine's and Arrow's many small allocations, once freed, stay in the C allocator's
heaps and Arrow's pool: the process keeps them as resident memory and the next stage's
arrays come on top. Training calls this between stages so that its peak is the largest
stage's, not the sum of the stages'."""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import pyarrow as pa

__all__ = ["heap_frozen", "release_memory"]


def release_memory() -> None:
    """Collect garbage, then return what Arrow's pool and glibc's heaps hold free."""
    gc.collect()
    pa.default_memory_pool().release_unused()
    if sys.platform.startswith("linux"):
        libc = ctypes.util.find_library("c")
        if libc is not None:  # glibc: malloc_trim; musl and others have no such call
            trim = getattr(ctypes.CDLL(libc), "malloc_trim", None)
            if trim is not None:
                trim(0)


@contextmanager
def heap_frozen() -> Iterator[None]:
    """Leave the objects alive on entry out of every garbage collection inside.

    A job's process holds its libraries' few hundred thousand objects (Feast, MLflow,
    scikit-learn, matplotlib), and every full collection walks all of them, a quarter to half
    a second each, though none becomes garbage while the job runs. Inside, a collection walks
    only what the job made since; what was frozen is collected as ever once the block ends.
    Nested blocks, or a process that froze its heap itself, leave the outer freeze as it is.
    """
    outer = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        yield
    finally:
        if not outer:
            gc.unfreeze()
