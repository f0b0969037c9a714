"""Figures a data scientist would rather look at than read: PR and calibration curves, SHAP
summary, feature importance."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import shap
from matplotlib.figure import Figure
from sklearn.metrics import precision_recall_curve

from training.model import FailModel

__all__ = ["calibration_figure", "importance_figure", "pr_figure", "shap_figure"]

CURVE_POINTS = 2_000
"""Points a drawn curve keeps: a test window's PR curve has a point per distinct score
(hundreds of thousands), which draw no differently at this size and slowly."""


def pr_figure(y: np.ndarray, scorers: dict[str, np.ndarray], title: str) -> Figure:
    fig = Figure(figsize=(6, 5))
    ax = fig.subplots()
    for name, score in scorers.items():
        keep = ~np.isnan(score)
        precision, recall, _ = precision_recall_curve(y[keep], score[keep])
        drawn = np.unique(np.linspace(0, len(recall) - 1, CURVE_POINTS).astype(int))
        ax.plot(recall[drawn], precision[drawn], label=name, drawstyle="steps-post")
    ax.axhline(y.mean(), color="grey", lw=0.8, ls=":", label=f"base rate {y.mean():.1%}")
    ax.set(xlabel="recall (share of fails caught)", ylabel="precision", title=title)
    # placed, not "best": the best place is searched over every point drawn
    ax.legend(loc="upper right")
    fig.tight_layout()
    return fig


def calibration_figure(y: np.ndarray, p: np.ndarray, bins: int = 20) -> Figure:
    order = np.argsort(p)
    groups = [g for g in np.array_split(order, bins) if g.size]
    predicted = [p[g].mean() for g in groups]
    observed = [y[g].mean() for g in groups]
    fig = Figure(figsize=(5, 5))
    ax = fig.subplots()
    top = max(max(predicted), max(observed)) * 1.05
    ax.plot([0, top], [0, top], color="grey", lw=0.8, ls=":")
    ax.plot(predicted, observed, marker="o")
    ax.set(
        xlabel="predicted fail probability",
        ylabel="observed fail rate",
        title=f"Calibration on the test window ({bins} equal-count bins)",
    )
    fig.tight_layout()
    return fig


def importance_figure(model: FailModel, top: int = 25) -> Figure:
    gain = pd.Series(model.booster.feature_importance("gain"), index=model.features)
    gain = gain.sort_values().tail(top)
    fig = Figure(figsize=(6, 0.25 * top + 1))
    ax = fig.subplots()
    ax.barh(gain.index, gain.to_numpy() / gain.sum())
    ax.set(xlabel="share of total gain", title="Feature importance (gain)")
    fig.tight_layout()
    return fig


def shap_figure(model: FailModel, rows: pd.DataFrame, sample: int = 2_000, seed: int = 7) -> Figure:
    # sampled before the copy to float64: a 10M-trade test window is millions of rows
    x = rows[model.features].sample(min(sample, len(rows)), random_state=seed).astype(float)
    values = np.asarray(model.booster.predict(x, pred_contrib=True))[:, :-1]  # exact TreeSHAP
    shap.summary_plot(values, x, show=False, max_display=20)
    fig = plt.gcf()
    fig.suptitle("SHAP summary (log-odds contributions)")
    fig.tight_layout()
    return fig
