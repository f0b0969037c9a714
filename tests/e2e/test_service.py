"""The scoring service end to end over real HTTP: a model trained on a small world, copied
from the registry into BentoML's store and served by a real BentoML server. Responses keep
their contract and match the offline model, explanations are exact, bad requests get a 4xx
naming the field and the rule, unknown entities are scored cold, and the service keeps
serving when the registry is gone."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import bentoml
import httpx
import numpy as np
import pandas as pd
import pytest

from core.access import Role
from core.catalogue import INTRADAY_VIEW, of_view
from core.settings import Settings
from features.data.contract import read_dataset
from features.reference import Reference
from features.request import lifecycle_state
from features.retrieval import OnlineRetriever
from features.store import open_store
from serving.api.client import trade_records
from serving.api.keys import LocalKeys, local_keys
from serving.api.server import running_server
from serving.scoring.model_store import BENTO_MODEL, load_served
from tests.conftest import trained_home
from training.tracking import CHAMPION, MODEL_NAME, tracking_client

MAX_BATCH = 50


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, training_dir: Path) -> Settings:
    return trained_home(tmp_path_factory, training_dir, "served")


@pytest.fixture(scope="module")
def url(home: Settings):
    settings = home.model_copy(update={"max_batch": MAX_BATCH})
    with running_server(settings) as address:
        yield address


@pytest.fixture(scope="module")
def keys(home: Settings) -> LocalKeys:
    return local_keys(home)


@pytest.fixture(scope="module")
def feed(url: str, keys: LocalKeys) -> Iterator[httpx.Client]:
    with keys.client(url, Role.FEED, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def lead(url: str, keys: LocalKeys) -> Iterator[httpx.Client]:
    with keys.client(url, Role.LEAD, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def trades(training_dir: Path) -> pd.DataFrame:
    return read_dataset(training_dir)["trades"].tail(40).reset_index(drop=True)


def _soon_after(trades: pd.DataFrame) -> str:
    """A scoring instant just after these trades (the store's clock follows the scores)."""
    return (trades["execution_ts"].max() + pd.Timedelta(minutes=5)).isoformat()


def _one(trades: pd.DataFrame, i: int) -> dict:
    return trade_records(trades.iloc[[i]])[0]


def test_scores_keep_their_contract(home: Settings, url: str, trades: pd.DataFrame) -> None:
    as_of = trades["execution_ts"].max() + pd.Timedelta(minutes=5)
    client = bentoml.SyncHTTPClient(url, token=local_keys(home).keys[Role.FEED])
    try:
        got = client.score(trades=trade_records(trades), as_of=as_of.isoformat())
    finally:
        client.close()
        client._temp_dir.cleanup()  # BentoML 1.4's SyncHTTPClient.close() leaves it behind
    scores = got["scores"] if isinstance(got, dict) else got.scores
    scores = [s if isinstance(s, dict) else s.model_dump() for s in scores]
    champion = tracking_client(home).get_model_version_by_alias(MODEL_NAME, CHAMPION).version
    assert [s["trade_id"] for s in scores] == trades["trade_id"].tolist()
    for s in scores:
        p = s["fail_probability"]
        assert 0.0 <= p <= 1.0
        tier = "HIGH" if p >= home.risk_high else "MEDIUM" if p >= home.risk_medium else "LOW"
        assert s["risk_tier"] == tier
        assert s["model_version"] == str(champion)
        assert s["stage"] in {"EXECUTION", "CUTOFF", "ISD_1"}
        assert s["expected_cost"] >= 0 and s["currency"] in {"USD", "CAD", "GBP", "EUR", "JPY"}
        parts = s["cost_breakdown"]
        assert sum(parts.values()) == pytest.approx(s["expected_cost"], rel=1e-12, abs=1e-9)
        if s["expected_cost"] > 0:  # the part that dominates, in the analyst's words
            name = max(parts, key=parts.get).replace("_", "-")
            assert s["cost_driver"].startswith(f"{name}: {parts[max(parts, key=parts.get)]:,.0f}")
        assert s["cold_start"] == []
        assert 0 < len(s["reasons"]) <= home.reasons_per_trade
        contributions = [r["contribution"] for r in s["reasons"]]
        assert contributions == sorted(contributions, reverse=True) and min(contributions) > 0
        for r in s["reasons"]:
            assert r["text"].startswith(r["text"].split(":")[0]) and ":" in r["text"]
            assert r["action"] and r["team"] and r["code"].isupper()
    assert len({s["predicted_cause"] for s in scores}) >= 1
    assert any(s["expected_cost"] > 0 for s in scores)


def test_service_scores_equal_the_offline_model(
    home: Settings, url: str, trades: pd.DataFrame, training_dir: Path, feed: httpx.Client
) -> None:
    """Same trades, lifecycle and instant: the service's probability is the registered
    model's on the feature vector the offline retrieval path builds."""
    as_of = trades["execution_ts"].max() + pd.Timedelta(hours=20)
    scoring = np.full(len(trades), as_of.value // 1000)
    scoring = np.maximum(scoring, trades["execution_ts"].astype("int64").to_numpy() // 1000)
    events = read_dataset(training_dir)["events"]
    lifecycle = lifecycle_state(trades["trade_id"], events, scoring)
    body = {"trades": trade_records(trades, lifecycle), "as_of": as_of.isoformat()}
    scores = feed.post("/score", json=body, timeout=60).raise_for_status().json()["scores"]
    served = load_served(home).model
    with open_store(home) as store:
        vectors = OnlineRetriever(store, Reference.load(home))(trades, scoring, lifecycle)
    want = served.predict(vectors)
    got = np.array([s["fail_probability"] for s in scores])
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9)
    assert {s["stage"] for s in scores} != {"EXECUTION"}  # later stages were reached


def test_explanations_are_exact(
    home: Settings, url: str, trades: pd.DataFrame, feed: httpx.Client
) -> None:
    trade = trades.iloc[3]
    as_of = trade["execution_ts"] + pd.Timedelta(minutes=1)
    body = {"trade": _one(trades, 3), "as_of": as_of.isoformat()}
    got = feed.post("/explain", json=body, timeout=60).raise_for_status().json()
    served = load_served(home).model
    scoring = np.array([as_of.value // 1000])
    with open_store(home) as store:
        vector = OnlineRetriever(store, Reference.load(home))(trades.iloc[[3]], scoring)
    by_feature = {c["feature"]: c["contribution"] for c in got["contributions"]}
    assert sorted(by_feature) == sorted(served.features)
    # The values the service explained: what this process computes, but for the day's state,
    # which the service reads from its exception store (this module's other tests scored
    # trades of the same day there)
    values = {c["feature"]: c["value"] for c in got["contributions"]}
    x = np.array([[np.nan if values[f] is None else values[f] for f in served.features]])
    today = {f.name for f in of_view(INTRADAY_VIEW)}
    same = [f for f in served.features if f not in today]
    np.testing.assert_allclose(
        x[0, [served.features.index(f) for f in same]],
        vector[same].astype(float).to_numpy()[0],
        rtol=1e-9,
    )
    want = np.asarray(served.booster.predict(x, pred_contrib=True))[0]
    np.testing.assert_allclose(
        [by_feature[f] for f in served.features], want[:-1], rtol=0, atol=1e-6
    )
    assert got["base_value"] == pytest.approx(want[-1], abs=1e-6)
    assert got["base_value"] + sum(by_feature.values()) == pytest.approx(got["raw_score"], abs=1e-9)
    magnitudes = [abs(c["contribution"]) for c in got["contributions"]]
    assert magnitudes == sorted(magnitudes, reverse=True)
    score = feed.post("/score", json={"trades": [body["trade"]], "as_of": body["as_of"]})
    assert score.json()["scores"][0]["fail_probability"] == pytest.approx(got["fail_probability"])


def _bad(trade: dict, **changes: object) -> dict:
    out = dict(trade)
    for key, value in changes.items():
        if value is _DROP:
            out.pop(key)
        else:
            out[key] = value
    return out


_DROP = object()


@pytest.mark.parametrize(
    ("change", "field", "rule"),
    [
        ({"counterparty_id": _DROP}, "counterparty_id", "Field required"),
        ({"quantity": "many"}, "quantity", "valid number"),
        ({"quantity": -100.0}, "quantity", "greater than 0"),
        ({"side": "SHORT"}, "side", "'BUY' or 'SELL'"),
        ({"settlement_market": "XX"}, "settlement_market", "'US'"),
        ({"execution_ts": "2024-03-01T10:00:00"}, "execution_ts", "timezone"),
        ({"settlement_date": "2000-01-01"}, "settlement_date", "on or after trade_date"),
        ({"desk": "D1"}, "desk", "Extra inputs are not permitted"),
        ({"execution_ts": "9999-12-31T23:30:00-05:00"}, "execution_ts", "between 2000-01-01"),
        ({"trade_id": "T" * 65}, "trade_id", "1 to 64 printable characters"),
        ({"settlement_cycle_days": 2**65}, "settlement_cycle_days", "less than or equal to 30"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_bad_trades_get_a_400_naming_the_field_and_the_rule(
    url: str, trades: pd.DataFrame, change: dict, field: str, rule: str, feed: httpx.Client
) -> None:
    response = feed.post("/score", json={"trades": [_bad(_one(trades, 0), **change)]})
    assert response.status_code == 400, response.text
    assert field in response.text and rule in response.text


def test_oversized_empty_and_malformed_requests_get_a_4xx(
    url: str, trades: pd.DataFrame, feed: httpx.Client
) -> None:
    one = _one(trades, 0)
    big = feed.post("/score", json={"trades": [one] * (MAX_BATCH + 1)}, timeout=60)
    assert big.status_code == 413
    assert "trades" in big.text and f"at most {MAX_BATCH}" in big.text
    empty = feed.post("/score", json={"trades": []})
    assert empty.status_code == 400 and "at least one trade" in empty.text
    broken = feed.post(
        "/score", content=b'{"trades": [', headers={"content-type": "application/json"}
    )
    assert 400 <= broken.status_code < 500


def test_unknown_counterparty_and_instrument_are_scored_cold(
    url: str, trades: pd.DataFrame, feed: httpx.Client
) -> None:
    known = _one(trades, 0)
    new = _one(trades, 1) | {"counterparty_id": "NEW-CPTY", "instrument_id": "XS0000000000"}
    body = {"trades": [known, new], "as_of": _soon_after(trades)}
    response = feed.post("/score", json=body, timeout=60)
    assert response.status_code == 200, response.text
    first, second = response.json()["scores"]
    assert first["cold_start"] == []
    assert second["cold_start"] == ["counterparty", "instrument"]
    assert 0 <= second["fail_probability"] <= 1 and second["expected_cost"] >= 0


def test_keeps_serving_when_the_registry_is_unreachable(
    home: Settings, url: str, trades: pd.DataFrame, feed: httpx.Client
) -> None:
    """The first server copied the champion into BentoML's store; a service whose registry
    does not answer serves that copy, says so, and keeps checking."""
    served = feed.post("/model", json={}).raise_for_status().json()
    assert served["source"] == "registry" and served["registry"] == "ok"
    offline = home.model_copy(
        update={
            "mlflow_tracking_uri": "postgresql+psycopg://postgres:s3cr3t@127.0.0.1:1/nowhere",
            "model_refresh_seconds": 0.5,
        }
    )
    with running_server(offline) as other:
        answer = httpx.post(f"{other}/model", json={}, headers=feed.headers).raise_for_status()
        info = answer.json()
        assert info["source"] == "local store"
        assert "s3cr3t" not in answer.text and "postgres:***@" in info["registry"]
        assert info["bento_model"] == served["bento_model"]
        assert info["registry"] != "ok"
        body = {"trades": [_one(trades, 0)], "as_of": _soon_after(trades)}
        response = httpx.post(f"{other}/score", json=body, headers=feed.headers)
        assert response.status_code == 200
        assert response.json()["scores"][0]["model_version"] == served["model_version"]
    assert (home.bentoml_home / "models" / BENTO_MODEL).is_dir()
    assert dt.datetime.fromisoformat(info["loaded_at"])


def test_bentoml_build_packages_the_service_with_its_model(
    home: Settings, url: str, feed: httpx.Client
) -> None:
    """With the champion in the store (the server put it there), `bentoml build` makes a
    Bento that holds the service code and that model."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = os.environ | {"BENTOML_HOME": str(home.bentoml_home), "BENTOML_DO_NOT_TRACK": "true"}
    bentoml_cli = [sys.executable, "-m", "bentoml"]
    build = subprocess.run(
        [*bentoml_cli, "build", "-f", "bentofile.yaml", "--output", "tag"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
    )
    assert build.returncode == 0, build.stderr[-2000:]
    tag = build.stdout.strip().splitlines()[-1].removeprefix("__tag__:")
    listed = subprocess.run(
        [*bentoml_cli, "get", tag, "-o", "json"], env=env, capture_output=True, text=True
    )
    info = json.loads(listed.stdout)
    served = feed.post("/model", json={}).json()["bento_model"]
    assert served in [m["tag"] for m in info["models"]]
    assert info["service"] == "serving.api.service:Failcast"


def test_scores_land_in_the_queue_by_expected_cost(
    home: Settings,
    url: str,
    trades: pd.DataFrame,
    monkeypatch: pytest.MonkeyPatch,
    feed: httpx.Client,
    lead: httpx.Client,
) -> None:
    """Every /score is stored; at-risk trades are queued, overdue ones first, then costliest
    first, and statuses move with a history."""
    as_of = (trades["execution_ts"].max() + pd.Timedelta(hours=2)).isoformat()
    scores = feed.post(
        "/score", json={"trades": trade_records(trades), "as_of": as_of}, timeout=60
    ).json()["scores"]
    at_risk = {s["trade_id"] for s in scores if s["risk_tier"] != "LOW"}
    queue = lead.get("/queue").raise_for_status().json()
    assert {q["trade_id"] for q in queue} >= at_risk and at_risk
    overdue = [q for q in queue if q["status"] == "OVERDUE"]
    assert queue[: len(overdue)] == overdue
    for group in (overdue, queue[len(overdue) :]):
        costs = [q["expected_cost_usd"] for q in group]
        assert costs == sorted(costs, reverse=True)
    top = next(q for q in queue if q["status"] == "OPEN")
    assert top["team"] == top["reasons"][0]["team"] and top["action"]
    assert len(lead.get("/queue", params={"capacity": 2}).json()) == min(2, len(queue))
    one_team = lead.get("/queue", params={"team": top["team"]}).json()
    assert {q["team"] for q in one_team} == {top["team"]}

    trade_id = top["trade_id"]
    change = {"status": "ACKNOWLEDGED", "note": "calling the agent"}
    assert lead.post(f"/trades/{trade_id}/status", json=change).status_code == 200
    detail = lead.get(f"/trades/{trade_id}").json()
    assert detail["exception"]["status"] == "ACKNOWLEDGED"
    assert [h["status"] for h in detail["history"]] == ["OPEN", "ACKNOWLEDGED"]
    assert len(detail["trajectory"]) >= 2  # scored by the earlier tests too
    resolved = {"status": "RESOLVED", "action_taken": "borrowed"}
    assert lead.post(f"/trades/{trade_id}/status", json=resolved).status_code == 200
    assert trade_id not in {q["trade_id"] for q in lead.get("/queue").json()}
    assert lead.get(f"/trades/{trade_id}").json()["exception"]["status"] == "RESOLVED"
    closed = lead.post(f"/trades/{trade_id}/status", json=change)
    assert closed.status_code == 409 and "cannot go from RESOLVED to ACKNOWLEDGED" in closed.text
    assert lead.get("/trades/NOPE").status_code == 404

    from typer.testing import CliRunner

    from core.settings import get_settings
    from pipelines.cli import app

    monkeypatch.setenv("FAILCAST_HOME", str(home.home))
    get_settings.cache_clear()
    shown = CliRunner().invoke(app, ["queue", "--json"])
    assert shown.exit_code == 0, shown.output
    listed = [q["trade_id"] for q in json.loads(shown.output)]
    assert listed == [q["trade_id"] for q in lead.get("/queue").json()]


def test_events_rescore_trades_over_http_and_from_a_file(
    home: Settings,
    url: str,
    trades: pd.DataFrame,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    feed: httpx.Client,
    lead: httpx.Client,
) -> None:
    """POST /events and `failcast events ingest` re-score the trades an event touches; the
    trajectory grows; an event for a trade never scored gets a 400 naming it."""
    trade = trades.iloc[[5]]
    record = trade_records(trade)[0]
    executed = trade["execution_ts"].iloc[0]
    at = lambda minutes: (executed + pd.Timedelta(minutes=minutes)).isoformat()  # noqa: E731
    feed.post("/score", json={"trades": [record], "as_of": at(1)}, timeout=60)
    event = {
        "kind": "lifecycle",
        "trade_id": record["trade_id"],
        "event_ts": at(30),
        "event_type": "AFFIRMED",
        "detail": None,
    }
    applied = feed.post("/events", json={"events": [event]}, timeout=60).raise_for_status()
    (rescored,) = applied.json()["rescored"]
    assert rescored["trade_id"] == record["trade_id"] and rescored["previous_probability"]
    steps = lead.get(f"/trades/{record['trade_id']}").json()["trajectory"]
    assert {at(1)[:16], at(30)[:16]} <= {s["scored_at"][:16] for s in steps}

    bad = feed.post("/events", json={"events": [{**event, "trade_id": "NOPE"}]})
    assert bad.status_code == 400 and "trade never scored: NOPE" in bad.text
    wrong = feed.post("/events", json={"events": [{**event, "event_type": "SHIPPED"}]})
    assert wrong.status_code == 400 and "event_type" in wrong.text

    from typer.testing import CliRunner

    from core.settings import get_settings
    from pipelines.cli import app

    monkeypatch.setenv("FAILCAST_HOME", str(home.home))
    monkeypatch.setenv("FAILCAST_FEAST_PROJECT", home.feast_project)
    get_settings.cache_clear()
    lines = tmp_path / "events.jsonl"
    lines.write_text(json.dumps({**event, "event_type": "MATCHED", "event_ts": at(90)}) + "\n")
    done = CliRunner().invoke(app, ["events", "ingest", str(lines), "--json"])
    assert done.exit_code == 0, done.output
    assert [r["trade_id"] for r in json.loads(done.stdout)["rescored"]] == [record["trade_id"]]
    steps = lead.get(f"/trades/{record['trade_id']}").json()["trajectory"]
    assert at(90)[:16] in {s["scored_at"][:16] for s in steps}

    table = tmp_path / "inventory.csv"
    table.write_text("account_id,instrument_id,as_of_ts,available_qty,incoming_qty\nA,I,x,1,1\n")
    refused = CliRunner().invoke(app, ["events", "ingest", str(table)])
    assert refused.exit_code == 1 and "as_of_ts" in refused.output


def test_a_future_scoring_instant_an_oversized_event_batch_and_a_huge_capacity_get_a_4xx(
    url: str, trades: pd.DataFrame, feed: httpx.Client, lead: httpx.Client
) -> None:
    ahead = feed.post("/score", json={"trades": [_one(trades, 0)], "as_of": "2099-01-01T00:00:00Z"})
    assert ahead.status_code == 400 and "as_of" in ahead.text and "and now" in ahead.text
    event = {
        "kind": "lifecycle",
        "trade_id": "T1",
        "event_ts": "2024-06-03T14:00:00Z",
        "event_type": "ALLOCATED",
        "detail": None,
    }
    many = feed.post("/events", json={"events": [event] * (MAX_BATCH + 1)}, timeout=60)
    assert many.status_code == 413 and f"at most {MAX_BATCH} events" in many.text
    huge = lead.get("/queue", params={"capacity": 2**63})
    assert 400 <= huge.status_code < 500 and "capacity" in huge.text
