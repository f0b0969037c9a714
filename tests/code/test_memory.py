"""The heap freeze around a job: the libraries' objects out of its collections, and back after."""

from __future__ import annotations

import gc
import weakref

from core.memory import heap_frozen


class _Cycle:
    def __init__(self) -> None:
        self.me = self


def test_a_frozen_heap_still_collects_the_jobs_own_cycles_and_thaws_after() -> None:
    assert gc.get_freeze_count() == 0
    before = _Cycle()
    frozen = weakref.ref(before)
    with heap_frozen():
        assert gc.get_freeze_count() > 0  # what was alive on entry is out of the walk
        inside = _Cycle()
        made = weakref.ref(inside)
        del inside, before
        gc.collect()
        assert made() is None  # the job's own cycle is collected inside the block
        assert frozen() is not None  # the frozen one waits for the thaw
    assert gc.get_freeze_count() == 0
    gc.collect()
    assert frozen() is None  # and is collected once the block has ended


def test_a_nested_block_leaves_the_outer_freeze_in_place() -> None:
    with heap_frozen():
        with heap_frozen():
            pass
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0
