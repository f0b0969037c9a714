"""On-demand (request-time) feature views, python mode: fast on one trade, vectorised on many.

The transforms live in ``features.request`` so that the registry stores a two-line function
and every caller (training, serving, tests) runs the same code; the fields come from the
catalogue.
"""

from __future__ import annotations

from typing import Any, cast

from feast import FeatureView, RequestSource
from feast.on_demand_feature_view import OnDemandFeatureView, on_demand_feature_view

from core.catalogue import CONTEXT_VIEW, INTRADAY_VIEW, LIFECYCLE_VIEW, REQUEST_SOURCE
from features.repo.views import fields

__all__ = ["on_demand_views", "trade_request"]

trade_request = RequestSource(
    name=REQUEST_SOURCE,
    schema=fields(REQUEST_SOURCE),
    description="Fields sent with each trade when it is scored.",
)


def on_demand_views(views: dict[str, FeatureView]) -> list[OnDemandFeatureView]:
    def trade_context(inputs: dict[str, Any]) -> dict[str, Any]:
        from features.request import context_features

        return context_features(inputs)

    def lifecycle_stage(inputs: dict[str, Any]) -> dict[str, Any]:
        from features.request import lifecycle_features

        return lifecycle_features(inputs)

    def intraday_state(inputs: dict[str, Any]) -> dict[str, Any]:
        from features.request import intraday_features

        return intraday_features(inputs)

    # Feast compares an on-demand view's declared fields with ones it infers, descriptions
    # included, so output fields go undescribed (the catalogue describes them). The decorator
    # is applied as a call: Feast leaves it untyped.
    context = on_demand_feature_view(
        name=CONTEXT_VIEW,
        sources=[
            trade_request,
            views["counterparty_history"][["cpty_mean_notional_90d"]],
            views["counterparty_profile"][["cpty_domicile_code", "cpty_onboarded_day"]],
            views["instrument_profile"][["avg_daily_volume", "issue_day"]],
            views["ssi_state"],
            views["position"],
        ],
        schema=fields(CONTEXT_VIEW, described=False),
        mode="python",
        description="Trade context: timing, calendar, size, inventory and SSI age at scoring.",
    )(trade_context)
    lifecycle = on_demand_feature_view(
        name=LIFECYCLE_VIEW,
        sources=[trade_request],
        schema=fields(LIFECYCLE_VIEW, described=False),
        mode="python",
        description="Lifecycle stage: allocation, affirmation, instruction, matching at scoring.",
    )(lifecycle_stage)
    intraday = on_demand_feature_view(
        name=INTRADAY_VIEW,
        sources=[trade_request],
        schema=fields(INTRADAY_VIEW, described=False),
        mode="python",
        description="Our book at scoring: how the counterparty's other trades of the day are "
        "getting on, and how the receipt a sell waits on stands.",
    )(intraday_state)
    return [cast(OnDemandFeatureView, v) for v in (context, lifecycle, intraday)]
