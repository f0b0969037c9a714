"""The online store's watermark: one row, written by every build and materialised with the
features, saying up to when the online store holds every entity's values.

A store without it was emptied (a Redis restarted without persistence), never materialised,
or built for another project; one whose watermark is older than the views' shortest TTL
before the scoring instant holds values the model was never trained on (its training join
treats them as missing). Either way scoring must refuse, rather than read every entity as
unknown.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from feast import Entity, FeatureView, Field, ValueType
from feast.data_source import DataSource
from feast.types import Float64

from core.settings import OfflineStore
from features.repo.sources import batch_source

__all__ = [
    "WATERMARK_FEATURES",
    "WATERMARK_KEY",
    "WATERMARK_ROW",
    "WATERMARK_VIEW",
    "watermark_definitions",
]

WATERMARK_VIEW = "online_watermark"
WATERMARK_KEY = "store_id"
WATERMARK_ROW = "online"
"""The one row's key."""
WATERMARK_FEATURES = ("materialised_until_s", "built_at_s")
"""Up to when the build's values run, and when the build ran (epoch seconds)."""


def watermark_definitions(
    tables_dir: Path, store: OfflineStore = "duckdb"
) -> tuple[Entity, DataSource, FeatureView]:
    entity = Entity(
        name="online_store",
        join_keys=[WATERMARK_KEY],
        value_type=ValueType.STRING,
        description="The online store itself: keys its watermark.",
    )
    source = batch_source(
        f"{WATERMARK_VIEW}_table", tables_dir / f"{WATERMARK_VIEW}.parquet", store
    )
    view = FeatureView(
        name=WATERMARK_VIEW,
        entities=[entity],
        ttl=timedelta(0),
        schema=[Field(name=name, dtype=Float64) for name in WATERMARK_FEATURES],
        source=source,
        online=True,
        description="Up to when the online store holds every entity's values.",
    )
    return entity, source, view
