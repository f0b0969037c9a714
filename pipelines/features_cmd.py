"""`failcast features ...`: build the feature store from a dataset; show online values."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from core.catalogue import of_view
from core.errors import InvalidInput, NotFound, StoreUnavailable
from core.settings import get_settings
from pipelines.console import console, progress_steps

features_app = typer.Typer(help="Build and inspect the Feast feature store.", no_args_is_help=True)

_VIEWS_BY_ENTITY = {
    "counterparty_id": ("counterparty_profile", "counterparty_history"),
    "instrument_id": ("instrument_profile", "instrument_history", "instrument_ftd"),
    "account_id": ("account_history",),
}


@features_app.command("build")
def build_cmd(
    data: Annotated[Path, typer.Option(help="dataset directory to compute features from")],
) -> None:
    """Compute every feature table, apply the Feast repo and materialise the online store."""
    from features.build import build_features  # Feast loads only for feature commands

    settings = get_settings()
    with progress_steps("features") as step:
        report = build_features(data, settings, step)
    table = Table(title=f"Feature tables for {report.trades:,} trades (as of {report.horizon})")
    table.add_column("view")
    table.add_column("rows", justify="right")
    for view, rows in report.rows.items():
        table.add_row(view, f"{rows:,}")
    console.print(table)
    console.print(
        f"built in {report.seconds['total']:.1f} s; online store: {settings.online_store}, "
        f"registry: {'SQL' if settings.registry_url else 'file'}"
    )


@features_app.command("show")
def show_cmd(
    counterparty: Annotated[str | None, typer.Option(help="counterparty_id")] = None,
    instrument: Annotated[str | None, typer.Option(help="instrument_id")] = None,
    account: Annotated[str | None, typer.Option(help="account_id")] = None,
) -> None:
    """Print the current online feature values of a counterparty, an instrument or an
    account."""
    from feast.errors import FeastError

    from features.store import open_store

    given = {
        k: v
        for k, v in (
            ("counterparty_id", counterparty),
            ("instrument_id", instrument),
            ("account_id", account),
        )
        if v is not None
    }
    if len(given) != 1:
        raise InvalidInput("give exactly one of --counterparty, --instrument or --account")
    ((key, value),) = given.items()
    views = _VIEWS_BY_ENTITY[key]
    shown = [f for view in views for f in of_view(view)]
    refs = [f"{f.view}:{f.name}" for f in shown]
    try:
        with open_store() as store:
            values = store.get_online_features(features=refs, entity_rows=[{key: value}]).to_dict()
    except FeastError as exc:  # no registry yet
        raise NotFound(f"no feature build to read ({exc}); run `failcast features build`") from exc
    except ConnectionError as exc:
        raise StoreUnavailable(f"the online store does not answer: {exc}") from exc
    if all(values[f.name][0] is None for f in shown):
        raise NotFound(f"no online features for {key} {value!r}; is it in the last build?")
    table = Table(title=f"{key} {value}")
    table.add_column("feature")
    table.add_column("value", justify="right")
    table.add_column("what it is")
    for f in shown:
        stored = values[f.name][0]
        table.add_row(f.name, "—" if stored is None else f.shown(stored), f.description)
    console.print(table)
