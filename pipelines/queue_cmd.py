"""`failcast queue`: today's at-risk trades, largest expected cost first, sized to capacity."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated

import typer
from rich import box
from rich.table import Table

from features.settings import get_settings
from pipelines.console import console
from serving.exception_store import ExceptionStore

__all__ = ["queue_cmd"]


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
    table = Table(title=title, box=box.SIMPLE_HEAD)
    for column in ("#", "trade", "ISD", "P(fail)", "exp. cost", "status", "team", "why"):
        table.add_column(
            column,
            justify="right" if column in ("#", "P(fail)", "exp. cost") else "left",
            no_wrap=column not in ("team", "why"),
        )
    for rank, r in enumerate(rows, 1):
        table.add_row(
            str(rank),
            r.trade_id,
            f"{r.settlement_date:%Y-%m-%d}",
            f"{r.fail_probability:.0%}",
            f"{r.expected_cost:,.0f} {r.currency}",
            r.status,
            r.team,
            r.reasons[0]["text"] if r.reasons else "—",
        )
    console.print(table)
    for rank, r in enumerate(rows, 1):
        console.print(f"{rank:>3}. {r.trade_id}: {r.action}", highlight=False)
