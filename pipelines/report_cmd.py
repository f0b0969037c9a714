"""`failcast report [--date D] --out report.html`: the ops lead's page about a settlement date
(by default the latest one of a stored trade)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from core.errors import FailcastError, NotFound
from core.settings import get_settings
from pipelines.console import console, err_console

__all__ = ["report_cmd"]


def report_cmd(
    date: Annotated[
        dt.datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="settlement date (ISD) to report on [default: the latest of a stored trade]",
        ),
    ] = None,
    out: Annotated[Path, typer.Option(help="HTML file to write")] = Path("report.html"),
    top: Annotated[int, typer.Option(min=1, help="top at-risk trades explained")] = 5,
) -> None:
    """Risk and expected cost by counterparty, instrument, desk and market; causes; the top
    at-risk trades with SHAP waterfalls; how the scores did; the trend week over week."""
    # the scoring stack is imported by the command that scores, not with the command line
    from pipelines.reports.day import day_report, render
    from serving.scoring.scorer import Scorer
    from serving.workflow.store import ExceptionStore

    settings = get_settings()
    try:
        scorer = Scorer.from_settings(settings)
    except (FailcastError, OSError) as exc:
        err_console.print(f"[yellow]no waterfalls[/]: the served model cannot be loaded ({exc})")
        scorer = None
    store = ExceptionStore.from_settings(settings)
    try:
        day = date.date() if date is not None else store.last_settlement_date()
        if day is None:
            raise NotFound(
                f"{store.name}: no scored trade stored, so no settlement "
                "date to report on; score trades first (POST /score or `make demo`)"
            )
        report = day_report(store, day, scorer, settings.risk_medium, top)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(report))
    finally:
        store.close()
    console.print(
        f"wrote {out} ({out.stat().st_size / 1e3:,.0f} kB): {len(report.book):,} trades settling "
        f"{report.day}, {int(report.book['at_risk'].sum()):,} at risk"
    )
