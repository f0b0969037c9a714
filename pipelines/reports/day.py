"""`failcast report --date D`: one self-contained HTML page for the ops lead about the trades
settling on D: where the risk and expected cost sit (counterparty, instrument, desk, market),
the likely causes, the top at-risk trades with their exact SHAP waterfalls, how the scores
did on the trades that have settled or failed, and the trend week over week.

Everything comes from the exception store (scores, trades, outcomes, statuses); the
waterfalls come from the served model, explaining each top trade as of its latest score.
Amounts are summed in USD at the indicative rates of the cost regimes (``core.regimes``).
"""

from __future__ import annotations

import datetime as dt
import html
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from core.errors import NotFound
from core.instants import epoch_us
from core.regimes import parts_text
from pipelines.reports.plots import (
    DIMENSIONS,
    cause_figure,
    dimension_figure,
    embedded,
    outcome_figure,
    trend_figure,
    waterfall_figure,
)
from serving.scoring.reasons import by_action
from serving.scoring.schemas import Explanation
from serving.scoring.scorer import Scorer
from serving.workflow.store import ExceptionStore
from serving.workflow.trades import as_trade

__all__ = ["DayReport", "day_report", "render"]

TREND_DAYS = 14  # two weeks of settlement dates, for week over week


@dataclass(frozen=True)
class DayReport:
    day: dt.date
    book: pd.DataFrame  # one row per scored trade settling on the day (latest score)
    trend: pd.DataFrame  # per settlement date over the last TREND_DAYS days
    weeks: pd.DataFrame  # this week against the week before
    explanations: list[Explanation]  # exact SHAP of the top at-risk trades, costliest first
    performance: dict[str, float]  # on the day's settled and failed trades
    medium: float  # probability from which a trade is at risk
    actions: pd.DataFrame  # status changes people made to the day's exceptions (who acted)


def day_report(
    store: ExceptionStore, day: dt.date, scorer: Scorer | None, medium: float, top: int = 5
) -> DayReport:
    book = _frame(store.book(day, day))
    if book.empty:
        raise NotFound(
            f"--date {day}: no scored trade settles on this date; score trades first "
            "(POST /score or `make demo`)"
        )
    history = _frame(store.book(day - dt.timedelta(days=TREND_DAYS - 1), day))
    trend = (
        history.assign(failed=history["outcome"].eq("FAILED"))
        .groupby("settlement_date")
        .agg(
            trades=("trade_id", "size"),
            at_risk=("at_risk", "sum"),
            expected_cost=("expected_cost_usd", "sum"),
            failed=("failed", "sum"),
            settled=("outcome", lambda o: int((o == "SETTLED").sum())),
        )
        .reset_index()
    )
    leaders = book.loc[book["at_risk"]].nlargest(top, "expected_cost_usd")
    explanations = []
    if scorer is not None:
        for row in leaders.to_dict("records"):
            trade = as_trade(row["payload"], row["lifecycle"])
            explanations.append(scorer.explain(trade, epoch_us(row["scored_at"])))
    return DayReport(
        day=day,
        book=book,
        trend=trend,
        weeks=_weeks(trend, day),
        explanations=explanations,
        performance=_performance(book, medium),
        medium=medium,
        actions=pd.DataFrame(
            [
                {"at": h.at, "trade_id": h.trade_id, "status": h.status, "actor": h.actor}
                | {"note": h.note}
                for h in store.people_actions(day, day)
            ],
            columns=["at", "trade_id", "status", "actor", "note"],
        ),
    )


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    frame = pd.DataFrame(rows)
    if not frame.empty:
        frame["at_risk"] = frame["risk_tier"] != "LOW"
    return frame


def _weeks(trend: pd.DataFrame, day: dt.date) -> pd.DataFrame:
    age = (pd.Timestamp(day) - pd.to_datetime(trend["settlement_date"])).dt.days
    week = np.where(age < 7, "this week", "week before")
    totals = trend.groupby(week)[["trades", "at_risk", "expected_cost", "failed", "settled"]].sum()
    return totals.reindex(["week before", "this week"]).fillna(0)


def _performance(book: pd.DataFrame, medium: float) -> dict[str, float]:
    decided = book.loc[book["outcome"].isin(["SETTLED", "FAILED"])]
    failed = decided["outcome"].eq("FAILED").to_numpy()
    flagged = decided["fail_probability"].to_numpy() >= medium
    p = decided["fail_probability"].to_numpy()
    return {
        "decided": len(decided),
        "failed": int(failed.sum()),
        "flagged": int(flagged.sum()),
        "fails_flagged": int((failed & flagged).sum()),
        "recall": float((failed & flagged).sum() / failed.sum()) if failed.any() else np.nan,
        "precision": float(failed[flagged].mean()) if flagged.any() else np.nan,
        "brier": float(np.mean((p - failed) ** 2)) if len(decided) else np.nan,
        "expected_fails": float(p.sum()),
    }


def render(report: DayReport) -> str:
    """The report as one HTML page (figures embedded as PNG data)."""
    book = report.book
    at_risk = book.loc[book["at_risk"]]
    open_ = at_risk.loc[at_risk["status"].isin(["OPEN", "ACKNOWLEDGED"])]
    perf = report.performance
    kpis = [
        ("trades settling", f"{len(book):,}"),
        ("at risk", f"{len(at_risk):,}"),
        ("still open", f"{len(open_):,}"),
        ("expected cost", f"{book['expected_cost_usd'].sum():,.0f} USD"),
        ("settled / failed so far", f"{perf['decided'] - perf['failed']:,} / {perf['failed']:,}"),
    ]
    sections = [
        _section(
            "Where the risk sits",
            _img(dimension_figure(book), "expected cost by counterparty, instrument, desk, market"),
            _top_table(book, "counterparty_id", "Counterparties"),
        ),
        _section("Likely causes", _img(cause_figure(book), "cause mix")),
        _section(
            "Top at-risk trades and why",
            _trades_table(at_risk.nlargest(len(report.explanations) or 5, "expected_cost_usd")),
            '<div class="waterfalls">',
            *[
                _img(waterfall_figure(e), f"SHAP waterfall of {e.trade_id}", e.trade_id)
                for e in report.explanations
            ],
            "</div>",
        ),
        _section("How the scores did", _performance_html(report)),
        _section("Who acted", _actions_html(report.actions)),
        _section(
            "Week over week",
            _img(trend_figure(report.trend), "trend by settlement date"),
            _weeks_table(report.weeks),
        ),
    ]
    cards = "".join(
        f'<div class="kpi"><div class="v">{html.escape(v)}</div><div>{html.escape(k)}</div></div>'
        for k, v in kpis
    )
    return _PAGE.format(
        day=report.day.isoformat(),
        made=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        kpis=cards,
        body="".join(sections),
    )


def _section(title: str, *parts: str) -> str:
    slug = title.lower().replace(" ", "-")
    return f'<section id="{slug}"><h2>{html.escape(title)}</h2>{"".join(parts)}</section>'


def _img(fig: Figure, alt: str, name: str = "") -> str:
    data = f' data-trade="{html.escape(name)}"' if name else ""
    return f'<img src="{embedded(fig)}" alt="{html.escape(alt)}"{data}>'


def _table(columns: list[str], rows: list[list[object]], css: str = "") -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>" for row in rows
    )
    return f'<table class="{css}"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def _top_table(book: pd.DataFrame, column: str, title: str, top: int = 10) -> str:
    grouped = (
        book.groupby(column)
        .agg(
            trades=("trade_id", "size"),
            at_risk=("at_risk", "sum"),
            cost=("expected_cost_usd", "sum"),
            mean_p=("fail_probability", "mean"),
        )
        .nlargest(top, "cost")
    )
    rows: list[list[object]] = [
        [key, int(r["trades"]), int(r["at_risk"]), f"{r['mean_p']:.1%}", f"{r['cost']:,.0f}"]
        for key, r in grouped.to_dict("index").items()
    ]
    label = DIMENSIONS[column]
    columns = [label, "trades", "at risk", "mean P(fail)", "expected cost (USD)"]
    return f"<h3>{html.escape(title)}</h3>" + _table(columns, rows, f"by-{label}")


def _trades_table(rows: pd.DataFrame) -> str:
    out: list[list[object]] = []
    for r in rows.to_dict("records"):
        reasons = "; ".join(
            f"{', '.join(texts)} → {action}" for action, texts in by_action(r["reasons"]).items()
        )
        out.append(
            [
                r["trade_id"],
                r["counterparty_id"],
                f"{r['fail_probability']:.1%}",
                r["stage"],
                f"{r['expected_cost']:,.0f} {r['currency']}",
                parts_text(r["expected_penalty"], r["expected_funding"], r["expected_buy_in"]),
                r["predicted_cause"],
                r["status"] or "—",
                reasons or "—",
            ]
        )
    columns = [
        "trade",
        "counterparty",
        "P(fail)",
        "at",
        "expected cost",
        "of which",
        "cause",
        "status",
        "why",
    ]
    return _table(columns, out, "top-trades")


def _performance_html(report: DayReport) -> str:
    perf = report.performance
    if not perf["decided"]:
        return "<p>No trade settling on this date has settled or failed yet.</p>"
    decided = report.book.loc[report.book["outcome"].isin(["SETTLED", "FAILED"])]
    rows = [
        ["trades settled or failed", f"{perf['decided']:,}"],
        ["failed", f"{perf['failed']:,} (expected from the scores: {perf['expected_fails']:.1f})"],
        ["at risk before the outcome", f"{perf['flagged']:,}"],
        ["fails flagged at risk (recall)", f"{perf['fails_flagged']:,} ({_pct(perf['recall'])})"],
        ["flagged trades that failed (precision)", _pct(perf["precision"])],
        ["Brier score", f"{perf['brier']:.4f}"],
    ]
    return _table(["measure", "value"], [list(r) for r in rows], "performance") + _img(
        outcome_figure(decided, report.medium), "scores of settled and failed trades"
    )


def _actions_html(actions: pd.DataFrame, latest: int = 20) -> str:
    """Per person, how many exceptions they moved to each status; then the latest changes."""
    if actions.empty:
        return "<p>No one has changed an exception of this date yet.</p>"
    counts = actions.pivot_table(
        index="actor", columns="status", values="trade_id", aggfunc="count", fill_value=0
    )
    statuses = list(counts.columns)
    rows: list[list[object]] = [
        [actor, *(int(n) for n in counts.loc[actor].to_numpy())] for actor in counts.index
    ]
    recent = [
        [f"{r['at']:%H:%M}", r["actor"], r["trade_id"], r["status"], r["note"] or "—"]
        for r in actions.tail(latest).to_dict("records")
    ]
    return _table(["who", *statuses], rows, "who-acted") + _table(
        ["at (UTC)", "who", "trade", "status", "note"], recent, "latest-actions"
    )


def _weeks_table(weeks: pd.DataFrame) -> str:
    rows = [
        [
            name,
            f"{int(r.trades):,}",
            f"{int(r.at_risk):,}",
            f"{r.expected_cost:,.0f}",
            f"{int(r.failed):,}",
            f"{int(r.settled):,}",
        ]
        for name, r in weeks.iterrows()
    ]
    columns = ["", "trades", "at risk", "expected cost (USD)", "failed", "settled"]
    return _table(columns, rows, "weeks")


def _pct(value: float) -> str:
    return "—" if np.isnan(value) else f"{value:.0%}"


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>failcast report: trades settling {day}</title>
<style>
body {{ font: 14px/1.45 system-ui, sans-serif; margin: 24px auto; max-width: 1200px;
  color: #101828; }}
h1 {{ margin-bottom: 0; }} .made {{ color: #667085; margin-top: 4px; }}
.kpis {{ display: flex; gap: 12px; margin: 16px 0; flex-wrap: wrap; }}
.kpi {{ border: 1px solid #e4e7ec; border-radius: 8px; padding: 10px 16px; min-width: 150px; }}
.kpi .v {{ font-size: 22px; font-weight: 600; }}
section {{ margin-top: 28px; }} img {{ max-width: 100%; display: block; margin: 8px 0; }}
.waterfalls {{ display: grid; grid-template-columns: 1fr 1fr; gap: 8px; }}
table {{ border-collapse: collapse; margin: 8px 0; }}
th, td {{ border-bottom: 1px solid #e4e7ec; padding: 4px 10px; text-align: left;
  vertical-align: top; }}
th {{ color: #667085; font-size: 12px; }}
</style></head>
<body>
<h1>Trades settling {day}</h1>
<p class="made">failcast ops-lead report, made {made}. Amounts in USD at indicative rates
unless a currency is shown.</p>
<div class="kpis">{kpis}</div>
{body}
</body></html>
"""
