"""Feature services: the exact, ordered feature list each model version is trained and served on."""

from __future__ import annotations

from feast import FeatureService, FeatureView
from feast.on_demand_feature_view import OnDemandFeatureView

__all__ = ["FAIL_MODEL_V1", "feature_services"]

FAIL_MODEL_V1 = "fail_model_v1"


def feature_services(
    views: dict[str, FeatureView], on_demand: list[OnDemandFeatureView]
) -> list[FeatureService]:
    odfv = {v.name: v for v in on_demand}
    v1 = FeatureService(
        name=FAIL_MODEL_V1,
        features=[
            views["counterparty_history"],
            views["counterparty_profile"][["cpty_type_code"]],
            views["instrument_profile"][["asset_class_code", "avg_daily_volume"]],
            views["instrument_history"],
            views["instrument_ftd"],
            views["pair_history"],
            views["market_history"],
            odfv["trade_context"],
            odfv["lifecycle_stage"],
        ],
        description="Settlement-fail model v1: every family, scored at any lifecycle stage.",
    )
    return [v1]
