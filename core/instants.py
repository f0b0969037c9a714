"""Instants as the product stores and compares them: int64 microseconds since the epoch, UTC.

Three spellings of one instant meet here: pandas timestamps (tables), aware ``datetime``
(requests and the exception store) and int64 microseconds (array arithmetic).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

__all__ = ["NEVER_US", "epoch_us", "instant", "instants_us", "iso"]

NEVER_US = np.iinfo(np.int64).min
"""Stands for "not (yet) known" in int64 instant arrays."""

_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def instants_us(stamps: pd.Series | pd.DatetimeIndex) -> np.ndarray:
    """UTC timestamps (NaT allowed) as int64 microseconds; NaT becomes NEVER_US."""
    values = pd.DatetimeIndex(stamps)
    if values.tz is not None:
        values = values.tz_convert("UTC").tz_localize(None)
    # NaT is int64's minimum in pandas' own representation
    return np.asarray(values.as_unit("us").to_numpy("datetime64[us]").view(np.int64)).copy()


def epoch_us(stamp: dt.datetime) -> int:
    """An aware instant as integer microseconds since the epoch, exactly."""
    delta = stamp - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def instant(us: int) -> dt.datetime:
    """Microseconds since the epoch as an aware UTC ``datetime``, exactly."""
    return _EPOCH + dt.timedelta(microseconds=us)


def iso(at: dt.datetime) -> str:
    """An aware instant as ISO 8601 in UTC, ``Z`` for the zone."""
    return at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")
