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

import pyarrow as pa

__all__ = ["release_memory"]


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
