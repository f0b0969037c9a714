"""On-demand (request-time) feature views, python mode: fast on one trade, vectorised on many.

The transforms live in ``features.request`` so that the registry stores a two-line function
and every caller (training, serving, tests) runs the same code.
"""

from __future__ import annotations

from feast import FeatureView, Field, RequestSource
from feast.on_demand_feature_view import OnDemandFeatureView, on_demand_feature_view
from feast.types import Float64, Int64

from features.request import CONTEXT_FEATURES, LIFECYCLE_FEATURES, REQUEST_FIELDS, Spec

__all__ = ["on_demand_views", "trade_request"]


def _fields(specs: tuple[Spec, ...], described: bool = True) -> list[Field]:
    # Feast compares an on-demand view's declared fields with ones it infers, descriptions
    # included, so output fields go undescribed (their descriptions live in the Specs).
    return [
        Field(
            name=s.name,
            dtype=Int64 if s.kind == "int" else Float64,
            description=s.description if described else "",
        )
        for s in specs
    ]


trade_request = RequestSource(
    name="trade_request",
    schema=_fields(REQUEST_FIELDS),
    description="Fields sent with each trade when it is scored.",
)


def on_demand_views(views: dict[str, FeatureView]) -> list[OnDemandFeatureView]:
    @on_demand_feature_view(
        sources=[
            trade_request,
            views["counterparty_history"][["cpty_mean_notional_90d"]],
            views["counterparty_profile"][["cpty_domicile_code", "cpty_onboarded_day"]],
            views["instrument_profile"][["avg_daily_volume", "issue_day"]],
            views["ssi_state"],
            views["position"],
        ],
        schema=_fields(CONTEXT_FEATURES, described=False),
        mode="python",
        description="Trade context: timing, calendar, size, inventory and SSI age at scoring.",
    )
    def trade_context(inputs: dict) -> dict:
        from features.request import context_features

        return context_features(inputs)

    @on_demand_feature_view(
        sources=[trade_request],
        schema=_fields(LIFECYCLE_FEATURES, described=False),
        mode="python",
        description="Lifecycle stage: allocation, affirmation, instruction, matching at scoring.",
    )
    def lifecycle_stage(inputs: dict) -> dict:
        from features.request import lifecycle_features

        return lifecycle_features(inputs)

    return [trade_context, lifecycle_stage]
