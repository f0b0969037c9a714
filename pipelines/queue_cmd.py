"""`failcast queue`: today's at-risk trades, largest expected cost first, sized to capacity."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from core.settings import get_settings
from pipelines.console import console
from serving.workflow.store import ExceptionStore, as_dict

__all__ = ["queue_cmd", "queue_table"]


def queue_cmd(
    date: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="settlement date (ISD)")
    ] = None,
    team: Annotated[str | None, typer.Option(help="owning team, e.g. 'Settlements'")] = None,
    capacity: Annotated[
        int | None, typer.Option(min=1, help="trades the team can work today")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Open and acknowledged exceptions, largest expected cost first."""
    store = ExceptionStore.from_settings(get_settings())
    try:
        rows = store.queue(date.date() if date else None, team, capacity)
    finally:
        store.close()
    if as_json:
        fields = [
            "trade_id",
            "status",
            "expected_cost",
            "currency",
            "fail_probability",
            "risk_tier",
            "predicted_cause",
            "team",
            "action",
            "settlement_date",
            "reasons",
        ]
        print(json.dumps([{f: getattr(r, f) for f in fields} for r in rows], default=str))
        return
    title = f"Exception queue: {len(rows)} trade(s)" + (
        f" settling {date:%Y-%m-%d}" if date else ""
    )
    table = queue_table([as_dict(r) for r in rows], title)
    console.print(table)
    for rank, r in enumerate(rows, 1):
        console.print(f"{rank:>3}. {r.trade_id}: {r.action}", highlight=False)


def queue_table(entries: Sequence[Mapping[str, Any]], title: str) -> Table:
    """Queue entries (``GET /queue`` items) as a table, in their order."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for column in ("#", "trade", "ISD", "P(fail)", "cause", "exp. cost", "status", "team", "why"):
        table.add_column(
            column,
            justify="right" if column in ("#", "P(fail)", "exp. cost") else "left",
            no_wrap=column not in ("team", "why"),
        )
    for rank, q in enumerate(entries, 1):
        table.add_row(
            str(rank),
            q["trade_id"],
            str(q["settlement_date"])[:10],
            f"{q['fail_probability']:.0%}",
            q["predicted_cause"],
            f"{q['expected_cost']:,.0f} {q['currency']}",
            q["status"],
            q["team"],
            q["reasons"][0]["text"] if q["reasons"] else "—",
        )
    return table
