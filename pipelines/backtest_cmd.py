"""`failcast backtest`: the exception queue replayed over a past period with the champion."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import pandas as pd
import typer
from rich import box
from rich.table import Table

from core.settings import get_settings
from pipelines.console import console, progress_steps

if TYPE_CHECKING:
    from pipelines.reports.backtest import Backtest

__all__ = ["backtest_cmd", "backtest_tables"]


def backtest_cmd(
    data: Annotated[Path, typer.Option(help="dataset directory to replay")],
    start: Annotated[
        dt.datetime, typer.Option("--from", formats=["%Y-%m-%d"], help="first settlement date")
    ],
    end: Annotated[
        dt.datetime, typer.Option("--to", formats=["%Y-%m-%d"], help="last settlement date")
    ],
    capacity: Annotated[
        int | None, typer.Option(min=1, help="trades the team can work per settlement date")
    ] = None,
    model: Annotated[str | None, typer.Option(help="model URI (default: the champion)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of tables")] = False,
) -> None:
    """Replay trades settling from --from to --to on point-in-time features: fails flagged
    by stage, lead time, and the penalties a daily top-K queue would have caught."""
    from pipelines.reports.backtest import backtest  # the query engine and the model's stack

    with progress_steps("backtest") as step:
        result = backtest(data, start.date(), end.date(), capacity, get_settings(), model, step)
    if as_json:
        print(json.dumps(result.to_dict(), indent=2, default=str))
        return
    for table in backtest_tables(result):
        console.print(table)


def backtest_tables(result: Backtest) -> list[Table]:
    title = (
        f"Backtest {result.start} to {result.end}: {result.trades:,} trades settling on "
        f"{result.days} dates, {result.fails:,} fails"
    )
    stages = Table(
        title=title,
        box=box.SIMPLE_HEAD,
        caption=(
            f"median lead time of a flagged fail: {result.lead_hours:.1f} h before it became known"
        ),
    )
    for column in ("stage", "fails flagged by then", "trades flagged", "precision"):
        stages.add_column(column, justify="left" if column == "stage" else "right")
    for r in result.stages.to_dict("records"):
        stages.add_row(
            r["stage"],
            _pct(r["fails_flagged_by_then"]),
            f"{r['flagged_trades']:,}",
            _pct(r["precision"]),
        )
    queues = Table(
        title=f"Daily queue of {result.capacity} trades per settlement date, ranked on ISD-1",
        box=box.SIMPLE_HEAD,
    )
    columns = (
        "queue",
        "queued",
        "fails caught",
        "share",
        "cost caught (USD, by regime)",
        "share ",
        "CSDR-style penalty caught",
        "share  ",
    )
    for column in columns:
        queues.add_column(column, justify="left" if column == "queue" else "right")
    for r in result.queues.to_dict("records"):
        queues.add_row(
            r["queue"],
            f"{r['queued']:,}",
            f"{r['fails_caught']:,}",
            _pct(r["fail_share"]),
            f"{r['cost_caught_usd']:,.0f}",
            _pct(r["cost_share"]),
            f"{r['penalty_caught']:,.0f}",
            _pct(r["penalty_share"]),
            style="bold" if str(r["queue"]).startswith("model") else None,
        )
    return [stages, queues]


def _pct(value: float) -> str:
    return "—" if pd.isna(value) else f"{value:.0%}"
