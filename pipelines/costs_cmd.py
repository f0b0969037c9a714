"""`failcast costs show`: the cost regimes in force, market by market, with their sources."""

from __future__ import annotations

from typing import Annotated

import typer
from rich import box
from rich.table import Table

from core.regimes import DEFAULT_REGIMES, CostRegimes, CsdrPenalty, FailsCharge, load_regimes
from core.settings import get_settings
from pipelines.console import console

__all__ = ["costs_app"]

costs_app = typer.Typer(help="What a fail costs, market by market.", no_args_is_help=True)


@costs_app.command("show")
def show_cmd(
    market: Annotated[str | None, typer.Option(help="one settlement market, e.g. DE")] = None,
) -> None:
    """The regimes in force (FAILCAST_COST_REGIMES, or the file failcast ships)."""
    path = get_settings().cost_regimes or DEFAULT_REGIMES
    regimes = load_regimes(path)
    markets = [market] if market else sorted(regimes.markets)
    for code in markets:
        regimes.regime(code)  # an unknown market is refused, naming those there are
    console.print(f"cost regimes from {path} (rates and FX indicative, as of {regimes.as_of})")
    console.print(_markets(regimes, markets))
    console.print(_currencies(regimes))


def _markets(regimes: CostRegimes, markets: list[str]) -> Table:
    table = Table(box=box.SIMPLE_HEAD, show_lines=True, title="by settlement market")
    for column in ("market", "penalty", "buy-in on a failing delivery", "sources"):
        table.add_column(column, overflow="fold")
    for code in markets:
        regime = regimes.regime(code)
        rule = regime.penalty
        if isinstance(rule, CsdrPenalty):
            rates = ", ".join(f"{k.value} {v:g}" for k, v in rule.bps_per_day.items())
            penalty = f"CSDR, bp/business day: {rates}; lack of cash: overnight rate / 365"
        elif isinstance(rule, FailsCharge):
            penalty = (
                f"fails charge on {', '.join(rule.applies_to)}: max({rule.threshold:.2%} − "
                f"{rule.policy_rate:.2%}, 0) = {rule.annual_rate:.2%} a year, act/{rule.day_count}"
            )
        else:
            penalty = "no cash penalty"
        b = regime.buy_in
        buy_in = f"after {b.after_days} days late: {b.probability:.0%} × {b.price_move_bps:g} bp"
        sources = f"penalty: {rule.source}\nbuy-in: {b.source}\nfunding: {regime.funding}"
        table.add_row(f"{code}\n{regime.name}", penalty, buy_in, sources)
    return table


def _currencies(regimes: CostRegimes) -> Table:
    table = Table(box=box.SIMPLE_HEAD, title=f"currencies ({regimes.reporting_currency} per unit)")
    for column in ("currency", "overnight rate", "day count", "FX", "source"):
        table.add_column(column, overflow="fold")
    for code, c in sorted(regimes.currencies.items()):
        table.add_row(
            code, f"{c.overnight_rate:.2%}", f"act/{c.day_count}", f"{c.usd_per_unit:g}", c.source
        )
    return table
