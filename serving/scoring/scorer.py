"""Scoring a batch of trades: features, calibrated probability, cause, exact SHAP reasons,
expected cost. No web framework here: the BentoML service, the benchmark and the exception
workflow all call this."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from core.catalogue import FEATURES
from core.costs import CostModel
from core.errors import ModelMismatch
from core.instants import instant
from core.regimes import CostParts, active_regimes, cost_driver
from core.settings import Settings
from core.stages import stage_at
from serving.scoring.explain import PARALLEL_MIN_ROWS, TreeExplainer
from serving.scoring.model_store import ServedModel
from serving.scoring.predict import TreePredictor
from serving.scoring.reasons import top_reasons
from serving.scoring.schemas import (
    CostBreakdownOut,
    Explanation,
    FeatureAttribution,
    ReasonOut,
    RiskTier,
    Trade,
    TradeScore,
    columns_of,
)
from serving.scoring.vectors import BookSource, FeatureVectors, ServingFeatures

__all__ = ["RiskTiers", "Scored", "Scorer"]

AsOf = int | np.ndarray | None
"""Scoring instant(s), µs since the epoch (never before each trade's execution)."""


@dataclass(frozen=True)
class RiskTiers:
    """Probability at or above which a trade is HIGH or MEDIUM risk."""

    high: float = 0.25
    medium: float = 0.10

    def __call__(self, probability: float) -> RiskTier:
        if probability >= self.high:
            return "HIGH"
        return "MEDIUM" if probability >= self.medium else "LOW"


@dataclass(frozen=True)
class Scored:
    """A scored batch: per-trade arrays plus the feature vectors and their attributions."""

    vectors: FeatureVectors
    x: np.ndarray  # the model's features, in its order
    probability: np.ndarray
    raw: np.ndarray
    contributions: np.ndarray  # n × (features + 1), last column the base value
    cause: np.ndarray
    cost: np.ndarray  # expected: P(fail) × (penalty + funding + buy-in), trade currency
    parts: CostParts  # the expected cost by part, trade currency
    cost_usd: np.ndarray  # in the reporting currency, to rank across currencies
    stage: np.ndarray
    scored_at_us: np.ndarray


class Scorer:
    def __init__(
        self,
        served: ServedModel,
        features: ServingFeatures,
        tiers: RiskTiers = RiskTiers(),
        reasons: int = 3,
    ) -> None:
        model = served.model
        missing = sorted(set(model.features) - set(features.names))
        if missing:
            raise ModelMismatch(f"the feature service does not provide model features {missing}")
        self.served, self.features, self.tiers, self.reasons = served, features, tiers, reasons
        self.explainer = TreeExplainer(model.booster)
        self.cause_predictor = TreePredictor(model.cause_booster)
        days_late = model.meta.get("expected_days_late")
        self.costs = CostModel(days_late=days_late) if days_late else CostModel()
        self.regimes = active_regimes()  # read once: pricing and FX of every batch
        self._columns = [features.names.index(f) for f in model.features]

    @classmethod
    def from_settings(cls, settings: Settings, book: BookSource = lambda: None) -> Scorer:
        """The served champion over the configured feature store, outside the service
        (``book``: our other trades, as ``ServingFeatures`` takes them)."""
        from features.reference import Reference
        from features.store import feature_store
        from serving.scoring.model_store import load_served

        reference = Reference.load(settings)
        return cls(
            load_served(settings),
            ServingFeatures(feature_store(settings), reference, book=book),
            RiskTiers(settings.risk_high, settings.risk_medium),
            settings.reasons_per_trade,
        )

    def run(self, trades: Sequence[Trade], as_of_us: AsOf = None) -> Scored:
        columns, lifecycle = columns_of(trades)
        now = as_of_us if as_of_us is not None else time.time_ns() // 1000
        scoring = np.maximum(columns["execution_us"], now)
        vectors = self.features(columns, lifecycle, scoring)
        x = vectors.matrix[:, self._columns]
        model = self.served.model
        contributions = self.explainer.contributions(x)
        raw = contributions.sum(axis=1)  # exact SHAP adds up to the booster's raw score
        probability = model.calibrate(1.0 / (1.0 + np.exp(-raw)))
        # the most likely cause has the largest raw score; a few rows walk the trees in
        # compiled code, batches go to LightGBM's threads
        if len(x) < PARALLEL_MIN_ROWS:
            cause_raw = self.cause_predictor.raw(x)
        else:
            cause_raw = np.asarray(model.cause_booster.predict(x, raw_score=True))
        cause = np.asarray(model.causes, dtype=object)[cause_raw.argmax(1)]
        parts = self.costs.expected_parts(
            probability,
            notional=columns["notional"],
            asset_class=vectors.asset_class,
            adv=vectors.column("avg_daily_volume"),
            market=columns["settlement_market"],
            currency=columns["currency"],
            side=columns["side"],
            cause=cause,
            regimes=self.regimes,
        )
        cost = parts.total
        cost_usd = self.regimes.in_reporting_currency(cost, columns["currency"])
        stage = stage_at(scoring, vectors.stage_starts)
        return Scored(
            vectors,
            x,
            probability,
            raw,
            contributions,
            cause,
            cost,
            parts,
            cost_usd,
            stage,
            scoring,
        )

    def score(self, trades: Sequence[Trade], as_of_us: AsOf = None) -> list[TradeScore]:
        """One score per trade, in input order. ``as_of_us``: one scoring instant for all,
        one per trade, or None for now."""
        s = self.run(trades, as_of_us)
        features, x = self.served.model.features, s.x
        out = []
        for i, trade in enumerate(trades):
            cold: list[Literal["counterparty", "instrument"]] = []
            if s.vectors.unknown_counterparty[i]:
                cold.append("counterparty")
            if s.vectors.unknown_instrument[i]:
                cold.append("instrument")
            reasons = top_reasons(features, x[i], s.contributions[i], self.reasons)
            penalty, funding, buy_in = (
                float(s.parts.penalty[i]),
                float(s.parts.funding[i]),
                float(s.parts.buy_in[i]),
            )
            # built from values made here, so without validating them again
            out.append(
                TradeScore.model_construct(
                    trade_id=trade.trade_id,
                    fail_probability=float(s.probability[i]),
                    risk_tier=self.tiers(float(s.probability[i])),
                    predicted_cause=str(s.cause[i]),
                    expected_cost=float(s.cost[i]),
                    currency=trade.currency,
                    expected_cost_usd=float(s.cost_usd[i]),
                    cost_breakdown=CostBreakdownOut.model_construct(
                        penalty=penalty, funding=funding, buy_in=buy_in
                    ),
                    cost_driver=cost_driver(penalty, funding, buy_in, trade.currency),
                    reasons=[ReasonOut.model_construct(**vars(r)) for r in reasons],
                    cold_start=cold,
                    model_version=self.served.version,
                    stage=str(s.stage[i]),
                    scored_at=instant(int(s.scored_at_us[i])),
                )
            )
        return out

    def explain(self, trade: Trade, as_of_us: int | None = None) -> Explanation:
        """Every feature's exact SHAP value for one trade, largest magnitude first."""
        s = self.run([trade], as_of_us)
        features = self.served.model.features
        x, phi = s.x[0], s.contributions[0]
        order = np.argsort(-np.abs(phi[:-1]), kind="stable")
        return Explanation(
            trade_id=trade.trade_id,
            fail_probability=float(s.probability[0]),
            raw_score=float(s.raw[0]),
            base_value=float(phi[-1]),
            contributions=[
                FeatureAttribution(
                    feature=features[j],
                    value=float(x[j]) if np.isfinite(x[j]) else None,
                    contribution=float(phi[j]),
                    code=str(FEATURES[features[j]].reason),
                )
                for j in order
            ],
            model_version=self.served.version,
            stage=str(s.stage[0]),
            scored_at=instant(int(s.scored_at_us[0])),
        )
