"""The `failcast` command line."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from core.errors import InvalidInput
from core.runtime import quiet_libraries
from core.settings import get_settings
from features.data.contract import read_dataset, write_dataset
from features.data.simulator import SimulationConfig, simulate
from features.data.sources.sec_ftd import read_sec_ftd, write_sec_ftd
from features.data.summary import summarise
from pipelines.backtest_cmd import backtest_cmd
from pipelines.console import calibration_table, console, progress_steps
from pipelines.costs_cmd import costs_app
from pipelines.db_cmd import db_app
from pipelines.errors import ReportingGroup
from pipelines.events_cmd import events_app
from pipelines.features_cmd import features_app
from pipelines.model_cmd import evaluate_cmd, train_cmd
from pipelines.queue_cmd import queue_cmd
from pipelines.report_cmd import report_cmd
from pipelines.serve_cmd import serve_cmd
from pipelines.users_cmd import audit_cmd, users_app

app = typer.Typer(
    cls=ReportingGroup,
    help="failcast: settlement-fail prediction for post-trade operations.",
    no_args_is_help=True,
)
data_app = typer.Typer(help="Inspect and import datasets.", no_args_is_help=True)
ingest_app = typer.Typer(help="Ingest real data sources.", no_args_is_help=True)
app.add_typer(data_app, name="data")
app.add_typer(ingest_app, name="ingest")
app.add_typer(features_app, name="features")
app.add_typer(events_app, name="events")
app.add_typer(db_app, name="db")
app.add_typer(costs_app, name="costs")
app.add_typer(users_app, name="users")
app.command("train")(train_cmd)
app.command("evaluate")(evaluate_cmd)
app.command("serve")(serve_cmd)
app.command("queue")(queue_cmd)
app.command("backtest")(backtest_cmd)
app.command("report")(report_cmd)
app.command("audit")(audit_cmd)

DatasetDir = Annotated[
    Path, typer.Argument(help="dataset directory (one Parquet or CSV file per table)")
]


@app.command("simulate")
def simulate_cmd(
    out: Annotated[Path, typer.Option(help="directory to write the dataset to")],
    days: Annotated[int, typer.Option(help="US business days of trading")] = 250,
    trades_per_day: Annotated[int, typer.Option(help="mean trades per day")] = 4_000,
    seed: Annotated[int, typer.Option(help="random seed")] = 7,
    start: Annotated[
        dt.datetime, typer.Option(formats=["%Y-%m-%d"], help="first trade date")
    ] = dt.datetime(2024, 1, 2),
    t1_switch: Annotated[
        dt.datetime | None, typer.Option(formats=["%Y-%m-%d"], help="US/CA move from T+2 to T+1")
    ] = dt.datetime(2024, 5, 28),
    sec_ftd: Annotated[
        Path | None, typer.Option(help="SEC fails-to-deliver files seeding US equities")
    ] = None,
    replicas: Annotated[int, typer.Option(help="Monte Carlo replicas behind both oracles")] = 32,
) -> None:
    """Simulate a world of trades, lifecycles and outcomes, with truth."""
    try:
        config = SimulationConfig(
            days=days,
            trades_per_day=trades_per_day,
            seed=seed,
            start=start.date(),
            t1_switch=t1_switch.date() if t1_switch else None,
            sec_ftd_dir=sec_ftd or get_settings().sec_ftd_dir,
            replicas=replicas,
        )
    except ValidationError as exc:
        raise InvalidInput(f"simulate: {exc}") from exc
    with progress_steps("simulate") as step:
        dataset = simulate(config, on_step=step)
    write_dataset(dataset, out)
    console.print(f"wrote {len(dataset['trades']):,} trades to {out}")


@app.command("validate")
def validate_cmd(directory: DatasetDir) -> None:
    """Check a dataset against the raw-data contract; exit 1 naming every violation."""
    dataset = read_dataset(directory)
    rows = ", ".join(f"{name} {len(frame):,}" for name, frame in dataset.items())
    console.print(f"[green]valid[/]: {rows}")


@data_app.command("summary")
def summary_cmd(
    directory: DatasetDir,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON instead of a table")] = False,
) -> None:
    """Calibration figures of a dataset beside the targets of DESIGN.md."""
    summary = summarise(read_dataset(directory))
    if as_json:
        typer.echo(json.dumps(summary.to_dict(), indent=2))
    else:
        console.print(calibration_table(summary))


@data_app.command("import")
def import_cmd(
    source: DatasetDir,
    out: Annotated[Path, typer.Option(help="directory to write the validated Parquet dataset to")],
) -> None:
    """Validate a dataset (CSV or Parquet) and store it as Parquet."""
    write_dataset(read_dataset(source), out)
    console.print(f"imported {source} into {out}")


@ingest_app.command("sec-ftd")
def ingest_sec_ftd_cmd(
    files: Annotated[
        list[Path], typer.Argument(help="cnsfails*.txt files, or a directory of them")
    ],
    out: Annotated[Path, typer.Option(help="directory to write sec_ftd.parquet to")],
) -> None:
    """Load SEC fails-to-deliver files into a per-security daily table."""
    table = read_sec_ftd(files[0] if len(files) == 1 else files)
    path = write_sec_ftd(table, out)
    console.print(
        f"wrote {len(table):,} rows ({table['cusip'].nunique():,} securities, "
        f"{table['settlement_date'].min():%Y-%m-%d} to "
        f"{table['settlement_date'].max():%Y-%m-%d}) to {path}"
    )


@app.command("demo")
def demo_cmd() -> None:
    """The main job end to end on embedded defaults."""
    from pipelines.demo import run_demo

    run_demo()


def main() -> None:
    """The ``failcast`` console script."""
    quiet_libraries()
    app()
