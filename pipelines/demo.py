"""`make demo`: the main job end to end on embedded defaults.

Today: simulate a world, validate it as written, print its calibration table, build the
feature store from it (feature tables, Feast registry, online store), show the features a few
of the last trades would be scored with, then train the fail model, print its metrics beside
the baselines and the oracle, and register it (champion if it beats the current one), and
finally start the BentoML scoring service and score the latest trades over HTTP. The exception
queue will extend this flow.
"""

from __future__ import annotations

import time

import httpx
import numpy as np
import pandas as pd
from rich import box
from rich.table import Table

from features.build import build_features
from features.contract import read_dataset, write_dataset
from features.reference import Reference
from features.retrieval import online_features
from features.settings import get_settings
from features.simulator import SimulationConfig, simulate
from features.store import open_store
from features.summary import summarise
from pipelines.console import calibration_table, console, progress_steps
from pipelines.model_cmd import metrics_table
from serving.client import trade_records
from serving.server import running_server
from training.train import TrainConfig, train

__all__ = ["DEMO_WORLD", "run_demo"]

# A year of trading that spans the T+1 switch, at a quarter of the default world's volume.
DEMO_WORLD = {"days": 250, "trades_per_day": 1_000}
DEMO_TRAINING = TrainConfig()  # test window: the last 40 trade dates
SAMPLE_TRADES = 8
_SHOWN_FEATURES = (
    "cpty_fail_rate_30d",
    "cpty_late_affirm_rate_30d",
    "inst_fail_rate_90d",
    "pair_fail_rate_90d",
    "market_fail_rate_7d",
    "minutes_to_cutoff_at_execution",
    "inventory_coverage",
    "ssi_age_days",
    "holiday_in_window",
    "period_end",
)


def run_demo() -> None:
    settings = get_settings()
    out = settings.data_dir / "demo"
    config = SimulationConfig(**DEMO_WORLD, sec_ftd_dir=settings.sec_ftd_dir)
    source = (
        f"SEC fails-to-deliver files in {config.sec_ftd_dir}"
        if config.sec_ftd_dir
        else "synthetic US equities"
    )
    console.rule("failcast demo: data")
    console.print(
        f"simulating {config.days} business days x ~{config.trades_per_day:,} trades/day ({source})"
    )
    with progress_steps("simulate") as step:
        dataset = simulate(config, on_step=step)
    write_dataset(dataset, out)
    dataset = read_dataset(out)  # read back through the contract, as any consumer would
    console.print(f"[green]valid[/] dataset: {len(dataset['trades']):,} trades in {out}")
    summary = summarise(dataset)
    console.print(calibration_table(summary))
    verdict = (
        "[green]every calibration target met[/]"
        if summary.all_targets_met
        else "[red]targets missed[/]"
    )
    console.print(verdict)

    console.rule("failcast demo: features")
    with progress_steps("features") as step:
        report = build_features(out, settings, step)
    console.print(
        f"{sum(report.rows.values()):,} feature rows in {len(report.rows)} views, as of "
        f"{report.horizon}; built and materialised to the {settings.online_store} online "
        f"store in {report.seconds['total']:.1f} s ({report.trades / report.seconds['total']:,.0f} "
        "trades/s)"
    )
    console.print(_recent_trade_features(dataset, settings))

    console.rule("failcast demo: model")
    with progress_steps("train") as step:
        result = train(out, settings, DEMO_TRAINING, step)
    console.print(metrics_table(result.table, "Champion candidate vs baselines and the oracle"))
    console.print(
        f"registered settlement-fail version {result.version} as [bold]{result.decision}[/]; "
        f"MLflow: {settings.tracking_uri} (run {result.run_id})"
    )

    console.rule("failcast demo: scoring service")
    console.print("starting the BentoML service with the champion (failcast serve) ...")
    with running_server(settings) as url:
        scored, seconds = _score_sample(url, dataset)
        queued = httpx.get(f"{url}/queue", timeout=30).raise_for_status().json()
    console.print(_scores_table(scored, url, seconds))
    console.print(_actions(scored), highlight=False)
    console.print(
        f"{len(queued)} at-risk trade(s) open in the exception queue "
        f"({settings.exception_store}); list them with [bold]failcast queue[/]."
    )
    console.print(
        "Start the service yourself with [bold]failcast serve[/] (port "
        f"{settings.serve_port}): POST /score, /explain, /model; GET /queue, /trades/ID; "
        "GET /readyz, /metrics."
    )


def _score_sample(url: str, dataset) -> tuple[list[dict], float]:
    """The last trade date's latest trades, scored over HTTP five minutes after the last
    of them was executed."""
    trades = dataset["trades"].tail(SAMPLE_TRADES)
    as_of = trades["execution_ts"].max() + pd.Timedelta(minutes=5)
    body = {"trades": trade_records(trades), "as_of": as_of.isoformat()}
    started = time.perf_counter()
    response = httpx.post(f"{url}/score", json=body, timeout=60).raise_for_status()
    return response.json()["scores"], time.perf_counter() - started


def _scores_table(scores: list[dict], url: str, seconds: float) -> Table:
    table = Table(
        title=f"POST {url}/score: {len(scores)} trades in {seconds * 1e3:.0f} ms, "
        "largest expected cost first",
        box=box.SIMPLE_HEAD,
    )
    for column in ("trade", "P(fail)", "tier", "likely cause", "exp. cost", "top reason"):
        table.add_column(
            column,
            justify="right" if column in ("P(fail)", "exp. cost") else "left",
            no_wrap=column != "top reason",
        )
    for s in _by_cost(scores):
        table.add_row(
            s["trade_id"],
            f"{s['fail_probability']:.1%}",
            s["risk_tier"],
            s["predicted_cause"],
            f"{s['expected_cost']:,.2f} {s['currency']}",
            s["reasons"][0]["text"] if s["reasons"] else "—",
        )
    return table


def _actions(scores: list[dict], top: int = 3) -> str:
    """What to do first: the costliest trades' reasons as actions for their teams."""
    lines = ["What to do first:"]
    for s in _by_cost(scores)[:top]:
        for r in s["reasons"][:2]:
            lines.append(f"  {s['trade_id']}: {r['text']}\n      → {r['action']} ({r['team']})")
    return "\n".join(lines)


def _by_cost(scores: list[dict]) -> list[dict]:
    return sorted(scores, key=lambda s: -s["expected_cost"])


def _recent_trade_features(dataset, settings) -> Table:
    """Online features of the last few trades, scored at the build's horizon."""
    reference = Reference.load(settings)
    trades = dataset["trades"].tail(4)
    at = np.full(len(trades), int(reference.manifest["horizon_us"]))
    with open_store(settings) as store:
        features = online_features(store, reference, trades, at)
    table = Table(title="Online features of the last trades (get_online_features + request time)")
    table.add_column("feature")
    for trade_id in trades["trade_id"]:
        table.add_column(trade_id, justify="right")
    for name in _SHOWN_FEATURES:
        table.add_row(name, *(_shown(v) for v in features[name]))
    return table


def _shown(value: float | None) -> str:
    return "—" if value is None or np.isnan(value) else f"{value:,.3g}"
