"""Feature services: the exact, ordered feature list each model version is trained and served
on, taken from the catalogue's model features."""

from __future__ import annotations

from feast import FeatureService, FeatureView
from feast.on_demand_feature_view import OnDemandFeatureView

from core.catalogue import MODEL_FEATURES, of_view

__all__ = ["FAIL_MODEL_V1", "feature_services"]

FAIL_MODEL_V1 = "fail_model_v1"


def feature_services(
    views: dict[str, FeatureView], on_demand: list[OnDemandFeatureView]
) -> list[FeatureService]:
    by_name: dict[str, FeatureView | OnDemandFeatureView] = {
        **views,
        **{v.name: v for v in on_demand},
    }
    wanted: dict[str, list[str]] = {}
    for feature in MODEL_FEATURES:
        wanted.setdefault(feature.view, []).append(feature.name)
    # a view indexed by names is a copy of it projected to those features
    whole = {view: names == [f.name for f in of_view(view)] for view, names in wanted.items()}
    v1 = FeatureService(
        name=FAIL_MODEL_V1,
        features=[by_name[v] if whole[v] else by_name[v][names] for v, names in wanted.items()],
        description="Settlement-fail model v1: every family, scored at any lifecycle stage.",
    )
    return [v1]
