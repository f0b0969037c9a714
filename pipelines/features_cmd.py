"""`failcast features ...`: build the feature store from a dataset; show online values."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from core.errors import InvalidInput, NotFound, StoreUnavailable
from core.markets import MARKETS
from core.settings import get_settings
from features.data.contract import ASSET_CLASSES, CPTY_TYPES
from pipelines.console import console, progress_steps
from pipelines.errors import App

features_app = App(help="Build and inspect the Feast feature store.", no_args_is_help=True)

# Codes shown as the names ops know them by.
_DECODE = {
    "cpty_type_code": CPTY_TYPES,
    "cpty_domicile_code": tuple(MARKETS),
    "asset_class_code": ASSET_CLASSES,
    "instrument_market_code": tuple(MARKETS),
}
_DAY_NUMBERS = ("cpty_onboarded_day", "issue_day")

_VIEWS_BY_ENTITY = {
    "counterparty_id": ("counterparty_profile", "counterparty_history"),
    "instrument_id": ("instrument_profile", "instrument_history", "instrument_ftd"),
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
) -> None:
    """Print the current online feature values of a counterparty or an instrument."""
    from feast.errors import FeastError

    from features.repo import VIEW_SCHEMAS
    from features.store import open_store

    if (counterparty is None) == (instrument is None):
        raise InvalidInput("give exactly one of --counterparty or --instrument")
    key, value = (
        ("counterparty_id", counterparty) if counterparty else ("instrument_id", instrument)
    )
    views = _VIEWS_BY_ENTITY[key]
    refs = [f"{view}:{f.name}" for view in views for f in VIEW_SCHEMAS[view]]
    try:
        with open_store() as store:
            values = store.get_online_features(features=refs, entity_rows=[{key: value}]).to_dict()
    except FeastError as exc:  # no registry yet
        raise NotFound(f"no feature build to read ({exc}); run `failcast features build`") from exc
    except ConnectionError as exc:
        raise StoreUnavailable(f"the online store does not answer: {exc}") from exc
    names = [ref.split(":")[1] for ref in refs]
    if all(values[name][0] is None for name in names):
        raise NotFound(f"no online features for {key} {value!r}; is it in the last build?")
    table = Table(title=f"{key} {value}")
    table.add_column("feature")
    table.add_column("value", justify="right")
    for name in names:
        table.add_row(name, _shown(name, values[name][0]))
    console.print(table)


def _shown(name: str, value: object) -> str:
    if value is None:
        return "—"
    if name in _DECODE and isinstance(value, int) and 0 <= value < len(_DECODE[name]):
        return _DECODE[name][value]
    if name in _DAY_NUMBERS and isinstance(value, int):
        return str(dt.date(1970, 1, 1) + dt.timedelta(days=value))
    return f"{value:,.4g}" if isinstance(value, float) else str(value)
