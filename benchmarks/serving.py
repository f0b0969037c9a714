"""Real-time scoring over HTTP, and exact explanations in process, on this machine.

    python -m benchmarks.serving [--home DIR]

``--home``: a project home holding a feature build and a champion (``./.failcast`` after
``make demo``). Without it the demo world is simulated, built and trained into a scratch home
first (about three minutes, not measured).

Measured in one run:
1. explanations in process: ``TreeExplainer`` against LightGBM's ``pred_contrib`` on the
   champion, one trade and 1,000 trades (median of 200 and of 5 runs), and the largest
   difference between the two;
2. single-trade ``/score`` with reasons over HTTP at concurrency 1, each request paired with
   one to a no-op BentoML endpoint served beside it (same payload, order alternating), so both
   see the same machine: p50 and p99, and the ratio of the p50s;
3. both at concurrency 8: requests per second, p50 and p99;
4. a batch of 1,000 trades in one ``/score`` call (median of 5);
5. trades per second through ``/score`` and events per second through ``/events`` (an
   AMENDED event for each of the trades just scored; those still undecided are re-scored) at
   batches of 1, 100 and 1,000.
Targets: p50 at most 1.5 × the no-op's and p99 at most 10 ms at concurrency 1; at concurrency
8, at least half the no-op's requests per second; 1,000 trades in at most 1 s; ``/events``
applies at least half as many events per second as ``/score`` scores trades, at every batch
size.
``--workers 2`` serves on two worker processes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from rich.console import Console
from rich.table import Table

from core.access import Role
from core.runtime import quiet_libraries
from core.settings import Settings
from features.data.contract import read_dataset
from features.reference import Reference
from serving.api.client import trade_records
from serving.api.keys import local_keys
from serving.api.server import running_server

NOOP_SERVICE = "benchmarks.noop_service:Noop"
SINGLE_REQUESTS = 1_500
CONCURRENT_SECONDS = 15.0
CONCURRENCY = 8
BATCH = 1_000
TARGET_RATIO, TARGET_P99_MS, TARGET_BATCH_S = 1.5, 10.0, 1.0
TARGET_CONCURRENT_SHARE = 0.5
THROUGHPUT_BATCHES = (1, 100, 1_000)
THROUGHPUT_TRADES = 3_000
TARGET_EVENTS_SHARE = 0.5


def prepare(home: Path | None, scratch: Path, console: Console) -> Settings:
    """The settings of ``home``, or of a scratch home with the demo world built and trained."""
    if home is not None:
        return Settings(home=home)
    from features.build import build_features
    from features.data.contract import write_dataset
    from features.data.simulator import SimulationConfig, simulate
    from pipelines.demo import DEMO_TRAINING, DEMO_WORLD
    from training.train import train

    settings = Settings(home=scratch / "home", feast_project="bench_serving")
    data = scratch / "world"
    console.print(f"no --home: simulating, building and training the demo world in {scratch}")
    write_dataset(simulate(SimulationConfig(**DEMO_WORLD)), data)
    build_features(data, settings)
    train(data, settings, DEMO_TRAINING)
    return settings


def _ms(seconds: list[float]) -> tuple[float, float]:
    return float(np.percentile(seconds, 50) * 1e3), float(np.percentile(seconds, 99) * 1e3)


def _explanations(settings: Settings, records: list[dict], as_of: str) -> dict:
    """Both explainers on the champion, over the feature vectors the service builds for the
    benchmark's trades."""
    import os

    os.environ.setdefault("BENTOML_HOME", str(settings.bentoml_home))
    from features.store import open_store
    from serving.scoring.explain import TreeExplainer
    from serving.scoring.model_store import load_served
    from serving.scoring.schemas import Trade
    from serving.scoring.scorer import Scorer
    from serving.scoring.vectors import ServingFeatures

    served = load_served(settings)
    with open_store(settings) as store:
        scorer = Scorer(served, ServingFeatures(store, Reference.load(settings)))
        at = int(np.datetime64(as_of.replace("+00:00", ""), "us").astype(np.int64))
        scored = scorer.run([Trade(**r) for r in records], at)
    model = served.model
    x = scored.x
    explainer = TreeExplainer(model.booster)
    fast = explainer.contributions(x)
    lgb = model.booster.predict(x, pred_contrib=True)

    def timed(fn, runs: int) -> float:
        out = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            out.append(time.perf_counter() - start)
        return statistics.median(out) * 1e3

    one = x[:1]
    return {
        "trees": model.booster.num_trees(),
        "leaves": int(model.booster.dump_model()["tree_info"][0]["num_leaves"]),
        "max_abs_diff": float(np.abs(fast - lgb).max()),
        "fast_1_ms": timed(lambda: explainer.contributions(one), 200),
        "lgb_1_ms": timed(lambda: model.booster.predict(one, pred_contrib=True), 200),
        "fast_1000_ms": timed(lambda: explainer.contributions(x), 5),
        "lgb_1000_ms": timed(lambda: model.booster.predict(x, pred_contrib=True), 5),
    }


def _paired(
    score_url: str, noop_url: str, bodies: list[dict], headers: dict[str, str]
) -> dict[str, list[float]]:
    """Concurrency 1: each trade goes to both endpoints, the order alternating."""
    times: dict[str, list[float]] = {"score": [], "noop": []}
    with httpx.Client(headers=headers) as client:
        for i in range(SINGLE_REQUESTS + 100):
            pair = [("score", score_url), ("noop", noop_url)]
            for name, url in pair if i % 2 else reversed(pair):
                start = time.perf_counter()
                client.post(f"{url}/score", json=bodies[i % len(bodies)]).raise_for_status()
                if i >= 100:  # warm-up
                    times[name].append(time.perf_counter() - start)
    return times


def _concurrent(url: str, bodies: list[dict], headers: dict[str, str]) -> tuple[float, list[float]]:
    """CONCURRENCY clients posting single trades for CONCURRENT_SECONDS."""
    latencies: list[float] = []
    lock = threading.Lock()
    stop = time.perf_counter() + CONCURRENT_SECONDS

    def client_loop(offset: int) -> None:
        mine = []
        with httpx.Client(headers=headers) as client:
            i = offset
            while time.perf_counter() < stop:
                start = time.perf_counter()
                client.post(f"{url}/score", json=bodies[i % len(bodies)]).raise_for_status()
                mine.append(time.perf_counter() - start)
                i += CONCURRENCY
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client_loop, args=(k,)) for k in range(CONCURRENCY)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return len(latencies) / (time.perf_counter() - started), latencies


def _batch(url: str, trades: list[dict], as_of: str, headers: dict[str, str]) -> list[float]:
    out = []
    with httpx.Client(timeout=60, headers=headers) as client:
        for _ in range(6):
            start = time.perf_counter()
            response = client.post(f"{url}/score", json={"trades": trades, "as_of": as_of})
            response.raise_for_status()
            out.append(time.perf_counter() - start)
    assert len(response.json()["scores"]) == len(trades)
    return out[1:]


def _amendments(records: list[dict], round_: int) -> list[dict]:
    """An AMENDED event per trade, ``round_`` milliseconds after its execution: new content
    each round, so none is taken for a resent event."""
    return [
        {
            "kind": "lifecycle",
            "trade_id": r["trade_id"],
            "event_ts": (pd.Timestamp(r["execution_ts"]) + pd.Timedelta(round_, "ms")).isoformat(),
            "event_type": "AMENDED",
        }
        for r in records
    ]


def _throughput(
    url: str, records: list[dict], as_of: str, headers: dict[str, str]
) -> dict[int, tuple[float, float, float]]:
    """Per batch size: trades scored per second by ``/score``, events applied and trades
    re-scored per second by ``/events`` (AMENDED events for trades already scored; the decided
    ones are not re-scored), each over the same number of trades, one client."""
    out: dict[int, tuple[float, float, float]] = {}
    round_ = int(time.time() * 1000) % 3_600_000  # another run's events are not resent ones
    with httpx.Client(timeout=120, headers=headers) as client:
        for size in THROUGHPUT_BATCHES:
            calls = max(3, THROUGHPUT_TRADES // size)
            start = time.perf_counter()
            for i in range(calls):
                chunk = [records[(i * size + k) % len(records)] for k in range(size)]
                client.post(
                    f"{url}/score", json={"trades": chunk, "as_of": as_of}
                ).raise_for_status()
            scored = calls * size / (time.perf_counter() - start)
            applied = rescored = 0
            start = time.perf_counter()
            for i in range(calls):
                round_ += 1
                chunk = [records[(i * size + k) % len(records)] for k in range(size)]
                response = client.post(f"{url}/events", json={"events": _amendments(chunk, round_)})
                response.raise_for_status()
                answer = response.json()
                applied += sum(answer["events"].values())
                rescored += len(answer["rescored"])
            seconds = time.perf_counter() - start
            out[size] = (scored, applied / seconds, rescored / seconds)
    return out


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="project home with features and a champion")
    parser.add_argument("--workers", type=int, default=1, help="service worker processes")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        settings = prepare(args.home, Path(tmp), console)
        settings = settings.model_copy(update={"serve_workers": args.workers})
        data = Path(Reference.load(settings).manifest["data_dir"])
        trades = read_dataset(data)["trades"].tail(BATCH)
        records = trade_records(trades)
        as_of = (trades["execution_ts"].max() + np.timedelta64(5, "m")).isoformat()
        explained = _explanations(settings, records, as_of)
        singles = [{"trades": [r], "as_of": as_of} for r in records]
        feed = local_keys(settings).headers(Role.FEED)  # both behind the same key check
        console.print("serving the champion and a no-op endpoint ...")
        with (
            running_server(settings) as score_url,
            running_server(settings, service=NOOP_SERVICE) as noop_url,
        ):
            paired = _paired(score_url, noop_url, singles, feed)
            rate_noop, lat_noop = _concurrent(noop_url, singles, feed)
            rate_score, lat_score = _concurrent(score_url, singles, feed)
            batch = _batch(score_url, records, as_of, feed)
            throughput = _throughput(score_url, records, as_of, feed)

    score_p50, score_p99 = _ms(paired["score"])
    noop_p50, noop_p99 = _ms(paired["noop"])
    ratio, batch_s = score_p50 / noop_p50, statistics.median(batch)
    ok = lambda good: "[green]✓[/]" if good else "[red]✗[/]"  # noqa: E731

    table = Table(
        title=f"Serving on this machine: {args.workers} worker(s), one run, HTTP over loopback"
    )
    for column in ("measure", "failcast /score", "no-op", "target", ""):
        table.add_column(column, justify="left" if column == "measure" else "right")
    table.add_row(
        "concurrency 1: p50 / p99 (ms)",
        f"{score_p50:.2f} / {score_p99:.2f}",
        f"{noop_p50:.2f} / {noop_p99:.2f}",
        "",
        "",
    )
    table.add_row(
        "p50 vs no-op", f"{ratio:.2f}×", "1×", f"≤ {TARGET_RATIO:g}×", ok(ratio <= TARGET_RATIO)
    )
    table.add_row(
        "p99 (ms)",
        f"{score_p99:.2f}",
        "",
        f"≤ {TARGET_P99_MS:g}",
        ok(score_p99 <= TARGET_P99_MS),
    )
    c8_score, c8_noop = _ms(lat_score), _ms(lat_noop)
    table.add_row(
        f"concurrency {CONCURRENCY}: req/s, p50 / p99 (ms)",
        f"{rate_score:,.0f}, {c8_score[0]:.1f} / {c8_score[1]:.1f}",
        f"{rate_noop:,.0f}, {c8_noop[0]:.1f} / {c8_noop[1]:.1f}",
        "",
        "",
    )
    share = rate_score / rate_noop
    table.add_row(
        f"concurrency {CONCURRENCY}: req/s vs no-op",
        f"{share:.0%}",
        "100%",
        f"≥ {TARGET_CONCURRENT_SHARE:.0%}",
        ok(share >= TARGET_CONCURRENT_SHARE),
    )
    table.add_row(
        f"batch of {BATCH:,} trades (s)",
        f"{batch_s:.3f}",
        "",
        f"≤ {TARGET_BATCH_S:.0f}",
        ok(batch_s <= TARGET_BATCH_S),
    )
    console.print(table)

    flows = Table(title="Events beside scores: trades per second by batch size, one client")
    for column in ("batch", "/score trades/s", "/events events/s", "re-scored trades/s", ""):
        flows.add_column(column, justify="right")
    for size, (scored, applied, rescored) in throughput.items():
        share = applied / scored
        flows.add_row(
            f"{size:,}",
            f"{scored:,.0f}",
            f"{applied:,.0f} ({share:.0%})",
            f"{rescored:,.0f}",
            f"≥ {TARGET_EVENTS_SHARE:.0%} {ok(share >= TARGET_EVENTS_SHARE)}",
        )
    console.print(flows)

    shap = Table(
        title=f"Exact SHAP, in process: champion of {explained['trees']} trees × "
        f"{explained['leaves']} leaves (largest difference {explained['max_abs_diff']:.1e})"
    )
    for column in ("rows", "TreeExplainer (ms)", "LightGBM pred_contrib (ms)", "speed-up"):
        shap.add_column(column, justify="right")
    for rows in (1, BATCH):
        fast, lgb = explained[f"fast_{rows}_ms"], explained[f"lgb_{rows}_ms"]
        shap.add_row(f"{rows:,}", f"{fast:.3f}", f"{lgb:.3f}", f"{lgb / fast:.1f}×")
    console.print(shap)


if __name__ == "__main__":
    main()
