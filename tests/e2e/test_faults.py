"""Faults survived, with real servers the tests start and kill themselves: a private Redis
(down, blackholed, emptied), a private PostgreSQL (down at start and mid-run), and the
whole service killed with SIGKILL under load from several clients. Nothing acknowledged is
lost, nothing is stored twice, and every refusal is a 503 naming what is down."""

from __future__ import annotations

import datetime as dt
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import psutil
import pytest
import sqlalchemy as sa

from core.access import Role
from core.settings import Settings
from features.build import build_features
from features.data.contract import read_dataset
from features.push import push_outcomes
from features.reference import Reference
from features.store import feature_store
from serving.api.client import trade_records
from serving.api.keys import local_keys
from serving.api.server import free_port, kill_tree, running_server, server_env, start_server
from tests.conftest import trained_home
from tests.servers import PrivatePostgres, PrivateRedis, private_postgres, private_redis

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, training_dir: Path) -> Settings:
    return trained_home(tmp_path_factory, training_dir, "faults")


@pytest.fixture(scope="module")
def rows(training_dir: Path) -> pd.DataFrame:
    return read_dataset(training_dir)["trades"].tail(200).reset_index(drop=True)


def _as_of(rows: pd.DataFrame) -> str:
    return (rows["execution_ts"].max() + pd.Timedelta(minutes=5)).isoformat()


def _renamed(rows: pd.DataFrame, prefix: str) -> list[dict[str, Any]]:
    """The rows as trades of their own (new ids), so that each is scored once."""
    records = trade_records(rows)
    for n, record in enumerate(records):
        record["trade_id"] = f"{prefix}-{n}"
    return records


# Redis ----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PrivateRedis]:
    with private_redis(tmp_path_factory.mktemp("redis")) as server:
        yield server


@pytest.fixture(scope="module")
def on_redis(home: Settings, redis: PrivateRedis, training_dir: Path) -> Settings:
    """The trained home with its features built into the private Redis."""
    settings = home.model_copy(update={"online_store": "redis", "redis": redis.address})
    build_features(training_dir, settings)
    return settings


def _feed(settings: Settings) -> dict[str, str]:
    """A feed's credentials in the exception store ``settings`` name."""
    return local_keys(settings).headers(Role.FEED)


def _lead(settings: Settings) -> dict[str, str]:
    return local_keys(settings).headers(Role.LEAD)


def _score(url: str, body: dict[str, Any], auth: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}/score", json=body, headers=auth, timeout=30)


def test_redis_down_or_blackholed_is_a_503_naming_it_within_a_second_and_recovers(
    on_redis: Settings, redis: PrivateRedis, rows: pd.DataFrame
) -> None:
    body = {"trades": _renamed(rows.head(20), "R"), "as_of": _as_of(rows)}
    feed = _feed(on_redis)
    with running_server(on_redis) as url:
        assert _score(url, body, feed).status_code == 200

        redis.kill()
        started = time.monotonic()
        down = _score(url, body, feed)
        took = time.monotonic() - started
        assert down.status_code == 503 and down.headers["retry-after"]
        assert f"the Redis online store at {redis.address}" in down.json()["error"]
        assert took < 1.0, f"a 503 after {took:.2f} s"
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 503 and redis.address in ready.text

        redis.start()  # its append-only file brings the data back
        assert _score(url, body, feed).status_code == 200
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200

        # blackholed: the server takes connections and answers nothing
        redis.cli("CLIENT", "PAUSE", "3000", "ALL")
        started = time.monotonic()
        paused = _score(url, body, feed)
        took = time.monotonic() - started
        assert paused.status_code == 503 and redis.address in paused.json()["error"]
        assert took < 1.0, f"a 503 after {took:.2f} s"
        time.sleep(3.0)
        assert _score(url, body, feed).status_code == 200


def test_an_emptied_online_store_is_refused_not_scored_as_unknown(
    on_redis: Settings, redis: PrivateRedis, rows: pd.DataFrame, training_dir: Path
) -> None:
    body = {"trades": _renamed(rows.head(20), "E"), "as_of": _as_of(rows)}
    feed = _feed(on_redis)
    with running_server(on_redis) as url:
        tiers = [
            s["risk_tier"] for s in _score(url, body, feed).raise_for_status().json()["scores"]
        ]
        redis.cli("FLUSHALL")  # a Redis restarted without persistence
        emptied = _score(url, body, feed)
        assert emptied.status_code == 503
        assert "holds no build watermark" in emptied.json()["error"]
        assert redis.address in emptied.json()["error"]
        ready = httpx.get(f"{url}/readyz", timeout=5)
        assert ready.status_code == 503 and "holds no build watermark" in ready.text

        build_features(training_dir, on_redis)  # the cure the message names
        again = _score(url, body, feed).raise_for_status().json()["scores"]
        assert [s["risk_tier"] for s in again] == tiers
        assert httpx.get(f"{url}/readyz", timeout=5).status_code == 200


def test_two_outcome_batches_of_one_counterparty_on_one_day_both_land_on_redis(
    on_redis: Settings, training_dir: Path
) -> None:
    """Every outcome of a day is known at one instant; Redis keeps a row only if it is newer,
    so the second batch's row must be stamped after the first's to land."""
    reference = Reference.load(on_redis)
    store = feature_store(on_redis)
    outcomes = read_dataset(training_dir)["outcomes"]
    trades = read_dataset(training_dir)["trades"][["trade_id", "counterparty_id"]]
    settled = outcomes[outcomes["status"] == "SETTLED"].merge(trades, on="trade_id")
    counterparty = settled["counterparty_id"].value_counts().index[0]
    first, second = settled.loc[settled["counterparty_id"] == counterparty, "trade_id"][:2]
    horizon = dt.datetime.fromtimestamp(reference.manifest["horizon_us"] / 1e6, dt.UTC)
    # after the build's horizon (so nothing built replaces the pushes), within the TTL
    known = pd.Timestamp(horizon + dt.timedelta(hours=1)).floor("h")

    def failed(trade_id: str) -> pd.DataFrame:  # a trade the build saw settle, now failed
        return pd.DataFrame(
            {
                "trade_id": [trade_id],
                "status": ["FAILED"],
                "settled_ts": [pd.NaT],
                "days_late": [1],
                "fail_reason": ["LACK_OF_SECURITIES"],
                "known_ts": [known],
            }
        )

    def online_rate() -> float:
        read = store.get_online_features(
            features=["counterparty_history:cpty_fail_rate_90d"],
            entity_rows=[{"counterparty_id": counterparty}],
        ).to_dict()
        return float(read["cpty_fail_rate_90d"][0])

    pushed = []
    for trade_id in (first, second):
        rows = push_outcomes(store, reference, failed(trade_id))["counterparty_history"]
        pushed.append(float(rows["cpty_fail_rate_90d"].iloc[0]))
        assert online_rate() == pushed[-1], f"the batch of {trade_id} landed"
    assert pushed[1] > pushed[0], "the second fail moved the rate, and it is what Redis holds"


# PostgreSQL -----------------------------------------------------------------------------


@pytest.fixture()
def postgres() -> Iterator[PrivatePostgres]:
    with private_postgres() as server:
        yield server


def _stored(url: str, trade_ids: list[str]) -> dict[str, int]:
    engine = sa.create_engine(url)
    try:
        if not sa.inspect(engine).has_table("scores"):
            return {}  # the service has not reached the store yet
        with engine.connect() as conn:
            counts = conn.execute(
                sa.text(
                    "SELECT trade_id, count(*) FROM scores WHERE trade_id = ANY(:ids) "
                    "GROUP BY trade_id"
                ),
                {"ids": trade_ids},
            )
            return dict(counts.all())
    finally:
        engine.dispose()


def test_postgres_down_the_service_starts_scores_into_the_journal_and_catches_up(
    home: Settings, postgres: PrivatePostgres, rows: pd.DataFrame
) -> None:
    settings = home.model_copy(update={"exception_store_url": postgres.url})
    feed, lead = _feed(settings), _lead(settings)  # the service reads their snapshot
    postgres.stop()  # down before the service starts
    first = _renamed(rows.head(30), "PG-A")
    second = _renamed(rows.iloc[30:60], "PG-B")
    with running_server(settings) as url:
        assert _score(url, {"trades": first, "as_of": _as_of(rows)}, feed).status_code == 200
        queue = httpx.get(f"{url}/queue", headers=lead, timeout=30)
        assert queue.status_code == 503 and f"127.0.0.1:{postgres.port}" in queue.json()["error"]

        postgres.start()
        deadline = time.monotonic() + 30
        while len(_stored(postgres.url, [t["trade_id"] for t in first])) < len(first):
            assert time.monotonic() < deadline, "the journal was not drained in 30 s"
            time.sleep(0.5)
        assert httpx.get(f"{url}/queue", headers=lead, timeout=30).status_code == 200

        postgres.stop()  # and down again mid-run
        assert _score(url, {"trades": second, "as_of": _as_of(rows)}, feed).status_code == 200
        postgres.start()
        assert httpx.get(f"{url}/queue", headers=lead, timeout=60).status_code == 200
    ids = [t["trade_id"] for t in first + second]
    assert _stored(postgres.url, ids) == dict.fromkeys(ids, 1), "each stored exactly once"


# the whole service killed -------------------------------------------------------------


def test_two_workers_refuse_no_event_of_a_trade_just_scored_and_sigkill_loses_nothing(
    home: Settings, rows: pd.DataFrame, tmp_path: Path
) -> None:
    settings = home.model_copy(
        update={"serve_workers": 2, "exception_store_url": f"sqlite:///{tmp_path / 'ex.db'}"}
    )
    as_of = _as_of(rows)
    feed, lead = _feed(settings), _lead(settings)
    server = start_server(settings)  # one start for both halves: starts are what this costs
    url = server.url
    try:
        refused = []
        for n, trade in enumerate(_renamed(rows.head(40), "W")):
            with httpx.Client(timeout=30, headers=feed) as one:  # a new connection: any worker
                one.post(f"{url}/score", json={"trades": [trade], "as_of": as_of})
            with httpx.Client(timeout=30, headers=feed) as other:
                event = {
                    "kind": "lifecycle",
                    "trade_id": trade["trade_id"],
                    "event_type": "ALLOCATED",
                    "event_ts": as_of,
                    "detail": None,
                }
                answer = other.post(f"{url}/events", json={"events": [event]})
                if answer.status_code != 200:
                    refused.append((n, answer.status_code, answer.text[:200]))
        assert refused == [], f"{len(refused)} of 40 events refused: {refused[:3]}"
    except BaseException:
        server.stop()
        raise

    acknowledged: list[str] = []
    codes: dict[int, int] = {}
    stop = threading.Event()
    lock = threading.Lock()

    def load(client_id: int) -> None:
        n = 0
        with httpx.Client(timeout=30, headers=feed) as client:
            while not stop.is_set():
                batch = _renamed(rows.sample(10, random_state=n), f"K{client_id}-{n}")
                n += 1
                try:
                    answer = client.post(f"{url}/score", json={"trades": batch, "as_of": as_of})
                except httpx.HTTPError:
                    continue  # the service is gone: nothing acknowledged
                with lock:
                    codes[answer.status_code] = codes.get(answer.status_code, 0) + 1
                    if answer.status_code == 200:
                        acknowledged.extend(s["trade_id"] for s in answer.json()["scores"])

    clients = [threading.Thread(target=load, args=(c,)) for c in range(4)]
    for client in clients:
        client.start()
    time.sleep(4.0)
    server.kill()  # launcher, arbiter and workers at once, mid-request
    time.sleep(1.0)
    stop.set()
    for client in clients:
        client.join()
    assert len(acknowledged) > 100, f"only {len(acknowledged)} scores acknowledged under load"
    assert set(codes) <= {200}, codes

    with running_server(settings) as url:  # the next start stores what the dead one journaled
        httpx.get(f"{url}/queue", headers=lead, timeout=60).raise_for_status()
    db = sqlite3.connect(tmp_path / "ex.db")
    stored = dict(
        db.execute("SELECT trade_id, count(*) FROM scores WHERE trade_id LIKE 'K%' GROUP BY 1")
    )
    db.close()
    lost = [t for t in acknowledged if t not in stored]
    twice = [t for t, n in stored.items() if n > 1]
    assert (len(lost), len(twice)) == (0, 0), f"lost {lost[:5]}, stored twice {twice[:5]}"


# stopping -------------------------------------------------------------------------------


def test_a_sigterm_to_failcast_serve_stops_the_whole_service_workers_included(
    home: Settings,
) -> None:
    settings = home.model_copy(update={"serve_workers": 2})
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    launcher = subprocess.Popen(
        [str(Path(sys.executable).parent / "failcast"), "serve", "--port", str(port)],
        env=server_env(settings),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 180
        while not _ready(url):
            assert launcher.poll() is None, f"failcast serve exited with {launcher.returncode}"
            assert time.monotonic() < deadline, "failcast serve was not ready in 180 s"
            time.sleep(0.5)
        tree = [psutil.Process(launcher.pid), *psutil.Process(launcher.pid).children(True)]
        assert len(tree) >= 3, "the server, its two workers"

        launcher.send_signal(signal.SIGTERM)  # to the pid only, as `kill <pid>` does
        _, alive = psutil.wait_procs(tree, timeout=30)
        assert alive == [], f"still running 30 s after SIGTERM: {alive}"
        with socket.socket() as again:  # a restart can bind the port
            again.bind(("127.0.0.1", port))
    finally:
        kill_tree(launcher.pid)
        launcher.wait(timeout=30)  # reaped: its exit status read


def _ready(url: str) -> bool:
    try:
        return httpx.get(f"{url}/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
