"""Soak: sustained ``/score`` and ``/events`` load on two workers, with the whole service
killed (SIGKILL) and restarted in the middle and its Redis stopped and started.

    python -m benchmarks.soak [--home DIR] [--minutes 4] [--clients 4]

``--home``: a project home with a feature build and a champion (``./.failcast`` after
``make demo``); its world is built into a private ``redis-server`` on a spare port (with an
append-only file, so a restart finds the data) and a champion trained into a scratch home,
neither measured. Without it the demo world is simulated first.

Each client scores batches of new trades and, once a batch is acknowledged, sends an
ALLOCATED event for each of its trades (with an event id, so a retry is a no-op); a request
that gets no answer or a 503 is sent again, as a sender would. At a third of the run the
service is killed and started again; at two thirds Redis is killed for ten seconds.

Printed: scores and events acknowledged, stored (an event: in the inbox, and its trade
scored again at its instant), duplicated (rows beyond one per trade and instant) and lost;
the answers by route and status (no answer counted apart); what the journal, the outbox
and the dead letters hold at the end.
Targets: lost = 0, duplicated = 0, no 5xx but the documented 503.
"""

from __future__ import annotations

import argparse
import sqlite3
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from benchmarks.serving import prepare
from core.access import Role
from core.runtime import quiet_libraries
from core.settings import Settings
from features.build import build_features
from features.data.contract import read_dataset
from features.reference import Reference
from serving.api.client import trade_records
from serving.api.keys import local_keys
from serving.api.server import Server, free_port, start_server
from tests.servers import PrivateRedis

BATCH = 5
REDIS_DOWN_SECONDS = 10.0
NO_ANSWER = 0  # a status-code key: the request got no answer (the service was down)


@dataclass
class Tally:
    """What the clients were told, shared between their threads."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    scored: dict[str, str] = field(default_factory=dict)  # trade id -> as_of acknowledged
    events: dict[str, str] = field(default_factory=dict)  # event id -> trade id acknowledged
    codes: Counter[int] = field(default_factory=Counter)
    routes: Counter[tuple[str, int]] = field(default_factory=Counter)


def _send(
    client: httpx.Client, url: str, route: str, body: dict[str, Any], tally: Tally, stop: Any
) -> httpx.Response | None:
    """POST until an answer other than 503 or no answer (or the run ends)."""
    while not stop.is_set():
        try:
            answer = client.post(f"{url}{route}", json=body)
        except httpx.HTTPError:
            code = NO_ANSWER
            answer = None
        else:
            code = answer.status_code
        with tally.lock:
            tally.codes[code] += 1
            tally.routes[(route, code)] += 1
        if answer is not None and code != 503:
            return answer
        time.sleep(0.2)
    return None


def _client(
    number: int,
    url: str,
    rows: pd.DataFrame,
    as_of: pd.Timestamp,
    tally: Tally,
    stop: Any,
    headers: dict[str, str],
) -> None:
    records = trade_records(rows)
    n = 0
    event_ts = (as_of + pd.Timedelta(minutes=1)).isoformat()
    with httpx.Client(timeout=30, headers=headers) as client:
        while not stop.is_set():
            batch = []
            for i in range(BATCH):
                record = dict(records[(n * BATCH + i) % len(records)])
                record["trade_id"] = f"SOAK-{number}-{n}-{i}"
                batch.append(record)
            n += 1
            body = {"trades": batch, "as_of": as_of.isoformat()}
            answer = _send(client, url, "/score", body, tally, stop)
            if answer is None or answer.status_code != 200:
                continue
            with tally.lock:
                tally.scored.update({s["trade_id"]: as_of.isoformat() for s in batch})
            events = [
                {
                    "kind": "lifecycle",
                    "event_id": f"EV-{t['trade_id']}",
                    "trade_id": t["trade_id"],
                    "event_type": "ALLOCATED",
                    "event_ts": event_ts,
                    "detail": None,
                }
                for t in batch
            ]
            answer = _send(client, url, "/events", {"events": events}, tally, stop)
            if answer is not None and answer.status_code == 200:
                with tally.lock:
                    tally.events.update({e["event_id"]: e["trade_id"] for e in events})


def _stored(db: Path) -> tuple[pd.DataFrame, set[str], dict[str, int]]:
    with sqlite3.connect(db) as conn:
        scores = pd.read_sql_query(
            "SELECT trade_id, scored_at FROM scores WHERE trade_id LIKE 'SOAK-%'", conn
        )
        inbox = {row[0] for row in conn.execute("SELECT event_id FROM inbox")}
        left = {
            "outbox entries not done": conn.execute(
                "SELECT count(*) FROM outbox WHERE done_at IS NULL"
            ).fetchone()[0],
            "dead letters": conn.execute("SELECT count(*) FROM dead_letters").fetchone()[0],
        }
    return scores, inbox, left


def main() -> None:
    quiet_libraries()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, help="project home with features and a champion")
    parser.add_argument("--minutes", type=float, default=4.0, help="length of the load")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        scratch = Path(tmp)
        data = Path(Reference.load(prepare(args.home, scratch, console)).manifest["data_dir"])
        redis = PrivateRedis(scratch / "redis")
        redis.start()
        try:
            settings = _soak_home(data, scratch, redis, console)
            tally, left, codes_ok = _run(settings, data, redis, args, console)
        finally:
            redis.kill()
        scores, inbox, stored_left = _stored(scratch / "soak.db")
        left.update(stored_left)
    _report(tally, scores, inbox, left, codes_ok, args, console)


def _soak_home(data: Path, scratch: Path, redis: PrivateRedis, console: Console) -> Settings:
    from pipelines.demo import DEMO_TRAINING
    from training.train import train

    settings = Settings(
        home=scratch / "soak",
        feast_project="bench_soak",
        online_store="redis",
        redis=redis.address,
        serve_workers=2,
        exception_store_url=f"sqlite:///{scratch / 'soak.db'}",
    )
    console.print(f"building {data} into the private Redis at {redis.address}, training ...")
    build_features(data, settings)
    train(data, settings, DEMO_TRAINING)
    return settings


def _run(
    settings: Settings, data: Path, redis: PrivateRedis, args: argparse.Namespace, console: Console
) -> tuple[Tally, dict[str, int], bool]:
    rows = read_dataset(data)["trades"].tail(2_000).reset_index(drop=True)
    as_of = pd.Timestamp(rows["execution_ts"].max()) + pd.Timedelta(minutes=5)
    port = free_port()
    server: Server = start_server(settings, port=port)
    tally, stop = Tally(), threading.Event()
    keys = local_keys(settings)
    feed = keys.headers(Role.FEED)
    clients = [
        threading.Thread(target=_client, args=(c, server.url, rows, as_of, tally, stop, feed))
        for c in range(args.clients)
    ]
    seconds = args.minutes * 60
    kill_at, redis_at = seconds / 3, 2 * seconds / 3
    killed = redis_stopped = False
    started = time.monotonic()
    with Progress(console=console) as progress:
        task = progress.add_task("soak", total=seconds)
        for client in clients:
            client.start()
        while (elapsed := time.monotonic() - started) < seconds:
            progress.update(task, completed=elapsed, description=_status(tally))
            if not killed and elapsed >= kill_at:
                killed = True
                progress.console.print(f"{elapsed:.0f} s: SIGKILL of the whole service")
                server.kill()
                server = start_server(settings, port=port)
                progress.console.print(f"{time.monotonic() - started:.0f} s: started again")
            if not redis_stopped and elapsed >= redis_at:
                redis_stopped = True
                progress.console.print(f"{elapsed:.0f} s: Redis killed")
                redis.kill()
                time.sleep(REDIS_DOWN_SECONDS)
                redis.start()
                progress.console.print(f"{time.monotonic() - started:.0f} s: Redis started")
            time.sleep(0.5)
        progress.update(task, completed=seconds)
    stop.set()
    for client in clients:
        client.join()
    lead = keys.headers(Role.LEAD)
    httpx.get(f"{server.url}/queue", headers=lead, timeout=120).raise_for_status()  # drained
    status = httpx.get(f"{server.url}/status", headers=lead, timeout=60).json()
    server.stop()
    left = {"journal pending at the end": int(status.get("journal", {}).get("pending", -1))}
    codes_ok = set(tally.codes) <= {200, 503, NO_ANSWER}
    return tally, left, codes_ok


def _status(tally: Tally) -> str:
    with tally.lock:
        return f"soak: {len(tally.scored):,} scores, {len(tally.events):,} events acknowledged"


def _report(
    tally: Tally,
    scores: pd.DataFrame,
    inbox: set[str],
    left: dict[str, int],
    codes_ok: bool,
    args: argparse.Namespace,
    console: Console,
) -> None:
    scores["at"] = pd.to_datetime(scores["scored_at"], utc=True, format="ISO8601")
    as_of = {pd.Timestamp(a) for a in tally.scored.values()}
    by_score = scores.loc[scores["at"].isin(as_of)]  # rows of /score; the others, re-scores
    by_event = scores.loc[~scores["at"].isin(as_of)]
    scored, rescored = set(by_score["trade_id"]), set(by_event["trade_id"])
    lost_scores = [t for t in tally.scored if t not in scored]
    lost_events = [e for e, t in tally.events.items() if e not in inbox or t not in rescored]
    # one row per trade and instant is what an exactly-once store holds
    twice = [int((f.groupby(["trade_id", "at"]).size() - 1).sum()) for f in (by_score, by_event)]

    table = Table(title=f"Soak: {args.minutes:g} min, {args.clients} clients, 2 workers")
    for column in ("", "acknowledged", "stored", "duplicated", "lost"):
        table.add_column(column, justify="right")
    table.add_row(
        "scores",
        f"{len(tally.scored):,}",
        f"{len(scored & tally.scored.keys()):,}",
        f"{twice[0]:,}",
        f"{len(lost_scores):,}",
    )
    table.add_row(
        "events",
        f"{len(tally.events):,}",
        f"{len(inbox & tally.events.keys()):,}",
        f"{twice[1]:,}",
        f"{len(lost_events):,}",
    )
    console.print(table)
    codes = Table(title="Answers (0: no answer, the service was down)")
    for column in ("route", "status", "requests"):
        codes.add_column(column, justify="right")
    for (route, code), count in sorted(tally.routes.items()):
        codes.add_row(route, str(code), f"{count:,}")
    console.print(codes)
    for what, count in left.items():
        console.print(f"{what}: {count}")
    good = not lost_scores and not lost_events and sum(twice) == 0 and codes_ok
    console.print(
        "[green]no acknowledged score or event lost or stored twice; no 5xx but 503[/]"
        if good
        else f"[red]targets missed[/]: lost {lost_scores[:3]} {lost_events[:3]}, "
        f"statuses {sorted(tally.codes)}"
    )


if __name__ == "__main__":
    main()
