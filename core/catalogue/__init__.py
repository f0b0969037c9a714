"""The feature catalogue: every field of the feature store declared once — name, dtype,
description, family, view, and for a model feature its reason code, analyst wording and
display format. The Feast fields and feature service, the request-time specs, the reasons
and the report labels are all derived from it.

Order matters: views appear in the order the model's feature service lists them, fields in
the order their views hold them.
"""

from __future__ import annotations

from core.catalogue._feature import Dtype, Family, Feature
from core.catalogue._intraday import (
    INTRADAY,
    INTRADAY_FEATURES,
    INTRADAY_REQUEST,
    INTRADAY_VIEW,
    Backlog,
)
from core.catalogue._receipts import RECEIPT_FEATURES, RECEIPT_REQUEST, ReceiptStatus
from core.catalogue._request import (
    CONTEXT,
    CONTEXT_VIEW,
    LIFECYCLE,
    LIFECYCLE_VIEW,
    REQUEST,
    REQUEST_SOURCE,
)
from core.catalogue._stored import STAMPS, STORED

__all__ = [
    "CATALOGUE",
    "CONTEXT_VIEW",
    "FEATURES",
    "INTRADAY",
    "INTRADAY_VIEW",
    "LIFECYCLE_VIEW",
    "MODEL_FEATURES",
    "ON_DEMAND_VIEWS",
    "REQUEST_SOURCE",
    "STAMPS",
    "STORED_VIEWS",
    "Backlog",
    "Dtype",
    "Family",
    "Feature",
    "ReceiptStatus",
    "of_view",
]

CATALOGUE: tuple[Feature, ...] = (
    *STORED,
    *REQUEST,
    *INTRADAY_REQUEST,
    *RECEIPT_REQUEST,
    *CONTEXT,
    *LIFECYCLE,
    *INTRADAY_FEATURES,
    *RECEIPT_FEATURES,
)
FEATURES: dict[str, Feature] = {f.name: f for f in CATALOGUE}
STORED_VIEWS: tuple[str, ...] = tuple(dict.fromkeys(f.view for f in STORED))
"""Feast feature views, each over a feature table of the same name."""
ON_DEMAND_VIEWS: tuple[str, ...] = (CONTEXT_VIEW, LIFECYCLE_VIEW, INTRADAY_VIEW)
MODEL_FEATURES: tuple[Feature, ...] = tuple(f for f in CATALOGUE if f.is_model_feature)
"""What the model is trained and served on, in the feature service's order."""


def of_view(view: str) -> tuple[Feature, ...]:
    """A view's fields in its order."""
    return tuple(f for f in CATALOGUE if f.view == view)
