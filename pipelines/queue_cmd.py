"""`failcast queue`: today's at-risk trades, largest expected cost first, sized to capacity."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import typer
from rich import box
from rich.table import Table

from core.regimes import parts_text
from core.settings import get_settings
from pipelines.console import console
from serving.workflow.store import ExceptionStore, as_dict

__all__ = ["cost_parts", "queue_cmd", "queue_table"]


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
            "expected_penalty",
            "expected_funding",
            "expected_buy_in",
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


def cost_parts(entry: Mapping[str, Any]) -> str:
    """An entry's expected cost by part (``GET /queue`` or store fields)."""
    return parts_text(
        entry.get("expected_penalty", 0.0),
        entry.get("expected_funding", 0.0),
        entry.get("expected_buy_in", 0.0),
    )


def queue_table(entries: Sequence[Mapping[str, Any]], title: str) -> Table:
    """Queue entries (``GET /queue`` items) as a table, in their order."""
    table = Table(title=title, box=box.SIMPLE_HEAD)
    columns = ("#", "trade", "ISD", "P(fail)", "cause", "exp. cost", "of which", "status", "team")
    for column in (*columns, "why"):
        table.add_column(
            column,
            justify="right" if column in ("#", "P(fail)", "exp. cost") else "left",
            no_wrap=column not in ("of which", "team", "why"),
        )
    for rank, q in enumerate(entries, 1):
        table.add_row(
            str(rank),
            q["trade_id"],
            str(q["settlement_date"])[:10],
            f"{q['fail_probability']:.0%}",
            q["predicted_cause"],
            f"{q['expected_cost']:,.0f} {q['currency']}",
            cost_parts(q),
            q["status"],
            q["team"],
            q["reasons"][0]["text"] if q["reasons"] else "—",
        )
    return table
