"""Values to their positions, fast both for a request's few and for training's millions."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["Lookup"]


class Lookup:
    """Values to their positions: a dict for the few a request holds (a pandas index costs
    tens of microseconds to build), the index for training's millions. No dict is made for a
    table of more than ``_DICT_MAX`` values: training's state of every trade would hold an
    entry per trade for lookups it never makes (it looks up whole chunks)."""

    _FEW = 64
    _DICT_MAX = 1_000_000

    def __init__(self, values: np.ndarray) -> None:
        self.index = pd.Index(values)
        self._positions: dict[Any, int] | None = (
            {v: i for i, v in enumerate(values.tolist())} if len(values) <= self._DICT_MAX else None
        )

    def __call__(self, values: np.ndarray) -> np.ndarray:
        if self._positions is not None and len(values) <= self._FEW:
            get = self._positions.get
            return np.array([get(v, -1) for v in values.tolist()], dtype=np.int64)
        return np.asarray(self.index.get_indexer(pd.Index(values)), dtype=np.int64)
