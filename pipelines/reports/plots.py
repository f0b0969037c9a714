"""The ops-lead report's figures (matplotlib): where the day's risk and expected cost sit,
what is likely to cause fails, why the top trades are at risk (SHAP waterfalls), how the
scores did on the trades that settled or failed, and the trend over the last weeks."""

from __future__ import annotations

import base64
import io

import pandas as pd
from matplotlib.figure import Figure

from core.catalogue import FEATURES
from serving.scoring.schemas import Explanation

__all__ = [
    "DIMENSIONS",
    "cause_figure",
    "dimension_figure",
    "embedded",
    "outcome_figure",
    "plain",
    "trend_figure",
    "waterfall_figure",
]

DIMENSIONS = {
    "counterparty_id": "counterparty",
    "instrument_id": "instrument",
    "desk_id": "desk",
    "settlement_market": "market",
}
"""Columns the day's risk is broken down by, and how the report names them."""
_AT_RISK = "#b54708"
_COST = "#1d4ed8"


def plain(text: object) -> str:
    """``text`` shown as it is: matplotlib reads ``$...$`` as mathtext, so an id such as
    ``C$\\x$`` would fail to draw; an escaped dollar is drawn as one."""
    return str(text).replace("$", r"\$")


def embedded(fig: Figure) -> str:
    """The figure as a PNG data URI, so that the page needs no other file."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def dimension_figure(book: pd.DataFrame, top: int = 10) -> Figure:
    """Expected cost by counterparty, instrument, desk and market (largest first), with the
    number of at-risk trades behind each bar."""
    fig = Figure(figsize=(12, 8))
    axes = fig.subplots(2, 2)
    for ax, (column, label) in zip(axes.flat, DIMENSIONS.items(), strict=True):
        grouped = (
            book.groupby(column)
            .agg(cost=("expected_cost_usd", "sum"), at_risk=("at_risk", "sum"))
            .nlargest(top, "cost")
            .iloc[::-1]
        )
        bars = ax.barh([plain(v) for v in grouped.index], grouped["cost"], color=_COST)
        for bar, count in zip(bars, grouped["at_risk"], strict=True):
            ax.annotate(
                f" {int(count)} at risk",
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                va="center",
                fontsize=8,
                color=_AT_RISK,
            )
        ax.set(title=f"Expected cost by {label}", xlabel="expected penalty cost (USD)")
        ax.margins(x=0.25)
    fig.tight_layout()
    return fig


def cause_figure(book: pd.DataFrame) -> Figure:
    """Predicted causes of the at-risk trades (by expected cost), beside the actual reasons
    of the trades that failed."""
    fig = Figure(figsize=(12, 4))
    (left, right) = fig.subplots(1, 2)
    at_risk = book.loc[book["at_risk"]]
    predicted = at_risk.groupby("predicted_cause")["expected_cost_usd"].sum().sort_values()
    left.barh(predicted.index, predicted.to_numpy(), color=_COST)
    left.set(title="Likely cause of the at-risk trades", xlabel="expected penalty cost (USD)")
    actual = book.loc[book["outcome"] == "FAILED", "fail_reason"].fillna("OTHER").value_counts()
    if actual.empty:
        right.text(0.5, 0.5, "no fails known yet", ha="center", va="center")
        right.set_axis_off()
    else:
        actual = actual.sort_values()
        right.barh(actual.index, actual.to_numpy(), color=_AT_RISK)
        right.set(title="Reasons of the trades that failed", xlabel="trades")
    fig.tight_layout()
    return fig


def waterfall_figure(explanation: Explanation, shown: int = 8) -> Figure:
    """From the model's base value to this trade's score (log-odds): the largest exact SHAP
    contributions one by one, the rest as one bar."""
    contributions = explanation.contributions  # largest magnitude first
    top, rest = contributions[:shown], contributions[shown:]
    labels = [plain(FEATURES[c.feature].phrase(c.value)) for c in top]
    values = [c.contribution for c in top]
    if rest:
        labels.append(f"{len(rest)} other features")
        values.append(sum(c.contribution for c in rest))
    fig = Figure(figsize=(8, 0.45 * len(values) + 1.4))
    ax = fig.subplots()
    start = explanation.base_value
    for i, value in enumerate(values):
        ax.barh(i, value, left=start, color=_AT_RISK if value > 0 else "#067647")
        start += value
    ax.axvline(explanation.base_value, color="grey", lw=1.2, ls=":")
    ax.axvline(explanation.raw_score, color="black", lw=1.2)
    ax.margins(x=0.08)
    ax.set_yticks(range(len(values)), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set(
        xlabel="log-odds of failing (dotted: average trade; solid: this trade)",
        title=f"{plain(explanation.trade_id)}: P(fail) {explanation.fail_probability:.1%}",
    )
    fig.tight_layout()
    return fig


def outcome_figure(decided: pd.DataFrame, medium: float) -> Figure:
    """Scores of the trades that settled and of those that failed, with the at-risk line."""
    fig = Figure(figsize=(8, 3.5))
    ax = fig.subplots()
    bins = [i / 40 for i in range(41)]
    for outcome, color in (("SETTLED", "#067647"), ("FAILED", _AT_RISK)):
        scores = decided.loc[decided["outcome"] == outcome, "fail_probability"]
        ax.hist(
            scores, bins=bins, alpha=0.6, color=color, label=f"{outcome.lower()} ({len(scores)})"
        )
    ax.axvline(medium, color="black", lw=0.8, ls="--", label=f"at risk from {medium:.0%}")
    ax.set(xlabel="last P(fail) before the outcome", ylabel="trades", yscale="log")
    ax.legend()
    fig.tight_layout()
    return fig


def trend_figure(trend: pd.DataFrame) -> Figure:
    """Per settlement date: expected cost, at-risk trades and fails."""
    fig = Figure(figsize=(10, 3.5))
    ax = fig.subplots()
    dates = pd.to_datetime(trend["settlement_date"])
    ax.bar(dates, trend["expected_cost"], color=_COST, alpha=0.6, label="expected cost")
    ax.set_ylabel("expected penalty cost (USD)")
    counts = ax.twinx()
    counts.plot(dates, trend["at_risk"], color=_AT_RISK, marker="o", label="at-risk trades")
    counts.plot(dates, trend["failed"], color="black", marker="x", label="fails")
    counts.set_ylabel("trades")
    lines = ax.get_legend_handles_labels()
    more = counts.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], loc="upper left")
    fig.autofmt_xdate()
    fig.tight_layout()
    return fig
