"""`failcast events ingest FILE`: apply lifecycle, SSI, inventory and outcome events, as
``POST /events`` does, and show the trades scored again."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from core.settings import get_settings
from pipelines.console import console

if TYPE_CHECKING:
    from serving.workflow.event_models import Applied

__all__ = ["events_app"]

events_app = typer.Typer(help="Lifecycle events and re-scoring.", no_args_is_help=True)


@events_app.command("ingest")
def ingest_cmd(
    file: Annotated[
        Path,
        typer.Argument(
            help="JSON lines (one event with its 'kind' per line), or events/ssi/inventory/"
            "outcomes .csv or .parquet"
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Push the events' facts online and score the trades they touch again."""
    # the scoring stack is imported by the command that scores, not with the command line
    from serving.scoring.scorer import Scorer
    from serving.workflow.event_files import read_events
    from serving.workflow.events import EventProcessor
    from serving.workflow.intraday import IntradayBook
    from serving.workflow.store import ExceptionStore

    settings = get_settings()
    events = read_events(file)
    store = ExceptionStore.from_settings(settings)
    today = IntradayBook(store)  # today's trades, as the service reads them
    scorer = Scorer.from_settings(settings, book=today.state)
    try:
        features = scorer.features
        processor = EventProcessor(
            lambda: scorer, store, features.store, features.reference, today.refresh
        )
        applied = processor.apply(events)
    finally:
        store.close()
    if as_json:
        print(applied.model_dump_json(indent=2))
    else:
        show(applied)


def show(applied: Applied) -> None:
    kinds = ", ".join(f"{n} {kind}" for kind, n in applied.events.items())
    pushed = ", ".join(f"{n} {view}" for view, n in applied.pushed.items()) or "nothing"
    console.print(f"applied {kinds}; pushed {pushed}")
    console.print(
        f"re-scored {len(applied.rescored)} trade(s); exceptions opened {applied.opened}, "
        f"updated {applied.updated}, closed {applied.closed}"
    )
    if not applied.rescored:
        return
    table = Table(box=box.SIMPLE_HEAD)
    for column in ("trade", "stage", "P(fail) before", "now", "tier", "exp. cost"):
        table.add_column(
            column, justify="left" if column in ("trade", "stage", "tier") else "right"
        )
    for r in sorted(applied.rescored, key=lambda r: -r.expected_cost):
        before = "—" if r.previous_probability is None else f"{r.previous_probability:.1%}"
        table.add_row(
            r.trade_id,
            r.stage,
            before,
            f"{r.fail_probability:.1%}",
            r.risk_tier,
            f"{r.expected_cost:,.0f} {r.currency}",
        )
    console.print(table)
