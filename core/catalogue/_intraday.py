"""Intraday features: how the trade's counterparty is getting on today, as of the scoring
instant (computed by ``features.compute.intraday``). Each backlog is one lifecycle step an
entity's trades wait on; it gives three features."""

from __future__ import annotations

from dataclasses import dataclass

from core.actions import ReasonCode as R
from core.catalogue._feature import Family, Feature, minutes, pct
from core.catalogue._request import REQUEST_SOURCE
from core.lifecycle import STEP_OF, Step

__all__ = ["INTRADAY", "INTRADAY_FEATURES", "INTRADAY_REQUEST", "INTRADAY_VIEW", "Backlog"]

INTRADAY_VIEW = "intraday_state"
_NO_TRADES = "no other trade today"


@dataclass(frozen=True)
class Backlog:
    """Today's other trades of an entity and one step they wait on."""

    entity: str  # the features' prefix: cpty, market, desk
    key: str  # the trade column naming the entity
    step: Step
    who: str  # how an analyst names the entity
    reason: R

    @property
    def names(self) -> tuple[str, str, str]:
        """Share still waiting, their mean wait (minutes), today's mean time to the step."""
        base = f"{self.entity}_today_{self.step.event.lower()}"
        return f"{base}_waiting_share", f"{base}_waiting_minutes", f"{base}_lag_minutes"

    def features(self) -> tuple[Feature, ...]:
        share, waiting, lag = self.names
        doing = self.step.label.lower()
        return tuple(
            Feature(
                name,
                "float",
                description,
                INTRADAY_VIEW,
                Family.INTRADAY,
                self.reason,
                label,
                fmt,
                _NO_TRADES,
            )
            for name, description, label, fmt in (
                (
                    share,
                    f"share of {self.who}'s other trades of today not yet {doing}",
                    f"{self.who.capitalize()}'s trades today not yet {doing}",
                    pct,
                ),
                (
                    waiting,
                    "mean minutes since execution of those still waiting",
                    f"{self.who.capitalize()}'s trades waiting to be {doing} for",
                    minutes,
                ),
                (
                    lag,
                    f"mean minutes from execution to {doing} of today's trades done",
                    f"{self.who.capitalize()}'s time to {doing} today",
                    minutes,
                ),
            )
        )


INTRADAY: tuple[Backlog, ...] = (
    Backlog("cpty", "counterparty_id", STEP_OF["AFFIRMED"], "the counterparty", R.AFFIRMATION),
    Backlog("cpty", "counterparty_id", STEP_OF["MATCHED"], "the counterparty", R.MATCHING),
)
"""The backlogs whose state is a feature: the counterparty's affirmations and matching. The
same figures for the settlement market's matching and the desk's allocations added nothing
on any world of the zoo, bad market and desk days included (benchmarks/RESULTS.md)."""

INTRADAY_FEATURES: tuple[Feature, ...] = tuple(f for b in INTRADAY for f in b.features())
INTRADAY_REQUEST: tuple[Feature, ...] = tuple(
    Feature(
        f"req_{f.name}", "float", f"{f.description} (NaN: none)", REQUEST_SOURCE, Family.REQUEST
    )
    for f in INTRADAY_FEATURES
)
"""The request fields carrying them: computed by the caller's side (training from the
dataset, the service from its exception store), passed through by the on-demand view."""
