"""`make demo`: the main job end to end on embedded defaults.

Simulate a world, validate it as written and print its calibration table. Cut it at the start
of its last trade date: what was known by then builds the feature store and trains the fail
model (metrics beside the baselines and the oracle; registered, champion if it beats the
current one). Then start the BentoML service and live the last day through it: the morning's
undecided trades scored, every new trade scored at execution, every lifecycle event, SSI
change, position and outcome sent to POST /events as it happens. The demo ends with the
exception queue, the ops-lead report of the day's settlements and the queue page's address.
"""

from __future__ import annotations

import sys
import webbrowser
from typing import Any

import httpx
import numpy as np
import pandas as pd
from rich.table import Table

from core.access import Role
from core.regimes import cost_driver, parts_text
from core.settings import Settings, get_settings
from features.build import build_features
from features.data.contract import Dataset, read_dataset, write_dataset
from features.data.simulator import SimulationConfig, simulate
from features.data.summary import summarise
from features.reference import Reference
from features.retrieval import online_features
from features.store import open_store
from pipelines.console import calibration_table, console, progress_steps
from pipelines.model_cmd import metrics_table
from pipelines.queue_cmd import queue_table
from pipelines.replay import replay, split_at
from pipelines.report_cmd import report_cmd
from serving.api.keys import local_keys
from serving.api.server import running_server
from serving.scoring.reasons import by_action
from serving.workflow.event_models import EVENT_KINDS
from serving.workflow.store import ExceptionStore
from training.train import TrainConfig, train

__all__ = ["DEMO_WORLD", "run_demo"]

# A year of trading that spans the T+1 switch, at a quarter of the default world's volume.
DEMO_WORLD = {"days": 250, "trades_per_day": 1_000}
DEMO_TRAINING = TrainConfig()  # test window: the last 40 trade dates
REPLAYED_HOURS = 30  # the last trade date, until its settlements' outcomes are known
_SHOWN_FEATURES = (
    "cpty_fail_rate_30d",
    "cpty_late_affirm_rate_30d",
    "inst_fail_rate_90d",
    "minutes_to_cutoff",
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

    last = dataset["trades"]["trade_date"].max()
    start = pd.Timestamp(last, tz="UTC")
    history, day = split_at(dataset, start, start + pd.Timedelta(hours=REPLAYED_HOURS))
    known = settings.data_dir / "demo-history"
    write_dataset(history, known)
    console.print(
        f"features and model see what was known at {start:%Y-%m-%d %H:%M} UTC: "
        f"{len(history['trades']):,} trades; the {REPLAYED_HOURS} hours after bring "
        f"{len(day.trades):,} new trades and {len(day.events):,} events"
    )

    console.rule("failcast demo: features")
    with progress_steps("features") as step:
        report = build_features(known, settings, step)
    console.print(
        f"{sum(report.rows.values()):,} feature rows in {len(report.rows)} views, as of "
        f"{report.horizon}; built and materialised to the {settings.online_store} online "
        f"store in {report.seconds['total']:.1f} s ({report.trades / report.seconds['total']:,.0f} "
        "trades/s)"
    )
    console.print(_recent_trade_features(history, settings))

    console.rule("failcast demo: model")
    with progress_steps("train") as step:
        result = train(known, settings, DEMO_TRAINING, step)
    console.print(
        metrics_table(result.table, "Champion candidate vs baselines, the oracle and hindsight")
    )
    console.print(
        f"registered settlement-fail version {result.version} as [bold]{result.decision}[/]; "
        f"MLflow: {settings.tracking_uri} (run {result.run_id})"
    )

    console.rule(f"failcast demo: a day of operations, {last:%Y-%m-%d}")
    if settings.exception_store_url is None:  # the demo's day starts with an empty queue
        settings.default_exception_db.unlink(missing_ok=True)
    keys = local_keys(settings)  # one per role, under the home (0600): nothing to set up
    console.print(
        f"API keys of every role (feed, analyst, lead, admin) in {keys.directory}; "
        "`failcast users add` issues more"
    )
    console.print("starting the BentoML service with the champion (failcast serve) ...")
    with running_server(settings) as url:
        with progress_steps("replay") as step:
            done = replay(
                url,
                history,
                day,
                lambda i, n: step(f"hour {i} of {n}", i / n),
                headers=keys.headers(Role.FEED),
            )
        console.print(
            f"scored {done.morning:,} undecided trades in the morning and {done.trades:,} new "
            f"trades at execution; {sum(done.events.values()):,} events "
            f"({', '.join(f'{done.events[k]:,} {k}' for k in EVENT_KINDS if k in done.events)}) "
            "re-scored "
            f"{done.rescored:,} trades; {done.opened:,} exceptions opened, {done.closed:,} "
            f"closed; {done.seconds:.0f} s over HTTP"
        )
        queued = (
            httpx.get(f"{url}/queue", headers=keys.headers(Role.LEAD), timeout=30)
            .raise_for_status()
            .json()
        )
        store = ExceptionStore.from_settings(settings)
        try:
            hidden = store.hidden_risk()
        finally:
            store.close()
        title = f"GET {url}/queue: {len(queued):,} open at-risk trades, costliest first"
        console.print(queue_table(queued[:10], title))
        console.print(_actions(queued), highlight=False)
        console.print(
            f"at-risk trades the queue does not show: {len(hidden)}"
            + (f" ({', '.join(hidden[:10])})" if hidden else "")
        )
        out = settings.home / "report.html"
        report_cmd(date=pd.Timestamp(last).to_pydatetime(), out=out, top=5)
        page = f"{url}/ui"
        if sys.stdin.isatty():
            console.print(
                f"\nqueue page: [bold]{page}[/] (sign in with the key in "
                f"{keys.file(Role.LEAD)}; also POST /score, /explain, /events; GET /queue). "
                "Press Enter to stop the service."
            )
            webbrowser.open(page)
            input()
    console.print(f"ops-lead report: [bold]{out}[/]")
    console.print(
        f"queue page: [bold]http://127.0.0.1:{settings.serve_port}/ui[/] once the service "
        "runs ([bold]failcast serve[/]); the queue in the terminal: [bold]failcast queue[/]"
    )


def _actions(queued: list[dict[str, Any]], top: int = 3) -> str:
    """What to do first: the costliest trades' reasons as actions for their teams."""
    lines = ["What to do first:"]
    for q in queued[:top]:
        driver = cost_driver(
            q["expected_penalty"], q["expected_funding"], q["expected_buy_in"], q["currency"]
        )
        lines.append(
            f"  {q['trade_id']}: expected cost {q['expected_cost']:,.0f} {q['currency']} = "
            f"{parts_text(q['expected_penalty'], q['expected_funding'], q['expected_buy_in'])} "
            f"({driver})"
        )
        for action, texts in by_action(q["reasons"]).items():
            lines.append(f"  {q['trade_id']}: {'; '.join(texts)}\n      → {action}")
    return "\n".join(lines)


def _recent_trade_features(dataset: Dataset, settings: Settings) -> Table:
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
