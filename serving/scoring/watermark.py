"""Whether the online store holds what scoring needs: the build's watermark
(``features.repo.watermark``), read beside every batch's features.

Scoring refuses (``StoreUnavailable``, a 503) when the watermark is missing (the store was
emptied, or never materialised) or older than the served views' shortest TTL before the
scoring instant: otherwise every entity would silently read as unknown and every trade look
risky. On SQLite the read costs one pragma until the store changes; on Redis one call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from feast import FeatureStore, FeatureView
from feast.errors import FeatureViewNotFoundException

from core.errors import StoreUnavailable
from core.instants import instant
from features.repo import WATERMARK_VIEW
from features.repo.watermark import WATERMARK_FEATURES, WATERMARK_KEY, WATERMARK_ROW
from features.store import online_store_name
from serving.scoring.online_read import StoredReader

__all__ = ["OnlineWatermark", "Watermark"]


@dataclass(frozen=True)
class Watermark:
    materialised_until: dt.datetime  # the online store holds every entity's values up to here
    built_at: dt.datetime


class OnlineWatermark:
    """The watermark of ``store``, checked against the TTLs of ``views`` (those served)."""

    def __init__(self, store: FeatureStore, views: Sequence[FeatureView]) -> None:
        self.name = online_store_name(store)
        ttls = [v.ttl for v in views if v.ttl is not None and v.ttl > dt.timedelta(0)]
        self.ttl: dt.timedelta | None = min(ttls, default=None)
        try:
            view = store.get_feature_view(WATERMARK_VIEW, allow_registry_cache=True)
        except FeatureViewNotFoundException:
            self._reader: StoredReader | None = None  # a build from before watermarks
        else:
            self._reader = StoredReader(store, [(view, list(WATERMARK_FEATURES))])
        self._seen: tuple[int, Watermark | None] | None = None  # SQLite: (data version, mark)

    def read(self) -> Watermark | None:
        """The watermark the store holds now (None: none). On SQLite it is read again only
        when the database changed since (``PRAGMA data_version``)."""
        if self._reader is None:
            return None
        version = self._reader.version()
        if version is not None and self._seen is not None and self._seen[0] == version:
            return self._seen[1]
        values = self._reader({WATERMARK_KEY: [WATERMARK_ROW]}, 1)
        until, built = (float(values[name][0]) for name in WATERMARK_FEATURES)
        mark = None if np.isnan(until) else Watermark(_at(until), _at(built))
        if version is not None:
            self._seen = (version, mark)
        return mark

    def check(self, scoring_us: np.ndarray) -> Watermark:
        """Raise ``StoreUnavailable`` unless the store can serve these scoring instants."""
        mark = self.read()
        if mark is None:
            raise StoreUnavailable(
                f"{self.name} holds no build watermark: it was emptied (restarted without "
                "persistence?) or never materialised, so every entity would read as unknown; "
                "run `failcast features build` to fill it"
            )
        self.check_fresh(mark, instant(int(scoring_us.max())))
        return mark

    def check_fresh(self, mark: Watermark, now: dt.datetime) -> None:
        """Raise ``StoreUnavailable`` if ``now`` is past the watermark by more than the TTL."""
        if self.ttl is not None and now - mark.materialised_until > self.ttl:
            raise StoreUnavailable(
                f"{self.name} was materialised up to {mark.materialised_until:%Y-%m-%d %H:%M} "
                f"UTC, more than the features' TTL ({self.ttl}) before {now:%Y-%m-%d %H:%M} "
                "UTC: its values have expired; run `failcast features build`"
            )


def _at(seconds: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(seconds, dt.UTC)
