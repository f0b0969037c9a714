"""The Feast feature repo: entities, sources, feature views, on-demand views, services.

Definitions are built by ``definitions(tables_dir, offline_store)`` because sources point at
the feature tables under the project home and are read by the configured offline store, both
configuration; everything else reads as a catalogue in the modules beside this one.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from feast import Entity, FeatureService, FeatureView
from feast.data_source import DataSource
from feast.on_demand_feature_view import OnDemandFeatureView

from core.settings import OfflineStore
from features.repo.entities import ENTITIES
from features.repo.on_demand import on_demand_views
from features.repo.services import FAIL_MODEL_V1, feature_services
from features.repo.sources import PUSHED_VIEWS, Sources, feature_sources, table_path
from features.repo.views import VIEW_KEYS, VIEW_SCHEMAS, feature_views
from features.repo.watermark import WATERMARK_VIEW, watermark_definitions

FeastObject = Entity | DataSource | FeatureView | OnDemandFeatureView | FeatureService

__all__ = [
    "FAIL_MODEL_V1",
    "PUSHED_VIEWS",
    "VIEW_KEYS",
    "VIEW_SCHEMAS",
    "WATERMARK_VIEW",
    "Definitions",
    "definitions",
    "table_path",
]


@dataclass(frozen=True)
class Definitions:
    entities: tuple[Entity, ...]
    sources: Sources
    views: dict[str, FeatureView]
    on_demand: list[OnDemandFeatureView]
    services: list[FeatureService]
    watermark: tuple[Entity, DataSource, FeatureView]

    def feature_names(self, service: str = FAIL_MODEL_V1) -> list[str]:
        """A service's features in order, from the definitions in code."""
        (chosen,) = [s for s in self.services if s.name == service]
        return [f.name for p in chosen.feature_view_projections for f in p.features]

    def objects(self) -> list[FeastObject]:
        return [
            *self.entities,
            *self.sources.all(),
            *self.views.values(),
            *self.on_demand,
            *self.services,
            *self.watermark,
        ]


def definitions(tables_dir: Path, offline_store: OfflineStore = "duckdb") -> Definitions:
    sources = feature_sources(tables_dir, list(VIEW_SCHEMAS), offline_store)
    views = feature_views(sources)
    on_demand = on_demand_views(views)
    services = feature_services(views, on_demand)
    return Definitions(
        ENTITIES,
        sources,
        views,
        on_demand,
        services,
        watermark_definitions(tables_dir, offline_store),
    )
