"""Shared rich console output: progress bars, the calibration table, error reporting."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from features.data.summary import CalibrationSummary

__all__ = ["calibration_table", "console", "err_console", "progress_steps"]

console = Console()
err_console = Console(stderr=True)


@contextmanager
def progress_steps(title: str) -> Iterator[Callable[[str, float], None]]:
    """A progress bar driven by ``step(name, fraction_done)`` callbacks."""
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as bar:
        task = bar.add_task(title, total=1.0)

        def step(name: str, fraction: float) -> None:
            bar.update(task, completed=fraction, description=f"{title}: {name}")

        yield step


def calibration_table(summary: CalibrationSummary) -> Table:
    table = Table(title=f"Calibration of {summary.n_settled_or_failed:,} settled or failed trades")
    table.add_column("figure", no_wrap=True)
    table.add_column("value", justify="right")
    table.add_column("target", justify="right")
    table.add_column("", justify="center")
    for target, value, ok in summary.checks():
        mark = "[green]✓[/]" if ok else "[red]✗[/]"
        table.add_row(target.label, target.format(value), target.text, mark)
    table.add_row("fail rate by value", f"{summary.figures['fail_rate_value']:.1%}", "", "")
    late = summary.days_late
    table.add_row(
        "days late (1 / 2 / 3-5 / 6+)",
        " / ".join(f"{late[k]:.0%}" for k in ("1 day", "2 days", "3-5 days", "6+ days")),
        f"median {late['median']:.0f}, p95 {late['p95']:.0f}",
        "",
    )
    return table
