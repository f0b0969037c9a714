"""From SHAP contributions to what an ops analyst reads: a reason code, a sentence about the
trade, the action that fixes it and the team that owns the action — each feature's wording
from the catalogue, each code's action from ``core.actions``."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from core.actions import ACTIONS
from core.catalogue import FEATURES

__all__ = ["Explained", "by_action", "top_reasons"]


@dataclass(frozen=True)
class Explained:
    """One reason on one trade, ready for the response."""

    code: str
    feature: str
    value: float | None
    contribution: float
    text: str
    action: str
    team: str


def by_action(reasons: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """Reasons (``ReasonOut`` fields) grouped under their action and team, in order: several
    reasons often call for one action."""
    grouped: dict[str, list[str]] = {}
    for reason in reasons:
        grouped.setdefault(f"{reason['action']} ({reason['team']})", []).append(reason["text"])
    return grouped


def top_reasons(
    features: Sequence[str], values: np.ndarray, contributions: np.ndarray, limit: int
) -> list[Explained]:
    """The ``limit`` features that raise this trade's risk most, strongest first; a feature
    that lowers the risk is never a reason to act."""
    order = np.argsort(-contributions[: len(features)], kind="stable")[:limit]
    out = []
    for i in order:
        if contributions[i] <= 0:
            break
        feature = FEATURES[features[i]]
        if feature.reason is None:
            raise KeyError(f"{feature.name} is not a model feature in the catalogue")
        value = float(values[i]) if np.isfinite(values[i]) else None
        action = ACTIONS[feature.reason]
        out.append(
            Explained(
                code=feature.reason.value,
                feature=feature.name,
                value=value,
                contribution=float(contributions[i]),
                text=feature.phrase(value),
                action=action.text,
                team=action.team.value,
            )
        )
    return out
