"""Who may call the service, over real HTTP: a real BentoML server with API keys in its
exception store and a stand-in identity provider serving a JWKS. Every route but the probes
and the page needs a credential (a 401 says what is missing), each role reaches its routes
only (a 403 names the role), an analyst changes their own teams' exceptions only, the actor
is whoever signed in, a revoked key stops working, and everything is in the audit trail."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from core.access import Role
from core.actions import Team
from core.settings import Settings, get_settings
from features.data.contract import read_dataset
from pipelines.cli import app
from serving.api.client import trade_records
from serving.api.keys import LocalKeys, local_keys
from serving.api.server import running_server
from tests.conftest import trained_home
from tests.identity import AUDIENCE, IdentityProvider, identity_provider


@pytest.fixture(scope="module")
def provider() -> Iterator[IdentityProvider]:
    with identity_provider() as idp:
        yield idp


@pytest.fixture(scope="module")
def home(
    tmp_path_factory: pytest.TempPathFactory, training_dir: Path, provider: IdentityProvider
) -> Settings:
    settings = trained_home(tmp_path_factory, training_dir, "access")
    return settings.model_copy(
        update={
            "oidc_issuer": provider.issuer,
            "oidc_audience": AUDIENCE,
            "oidc_jwks_url": provider.jwks_url,
            "auth_cache_seconds": 1.0,
            "risk_medium": 0.01,  # most trades open an exception
            "risk_high": 0.2,
        }
    )


@pytest.fixture(scope="module")
def keys(home: Settings) -> LocalKeys:
    return local_keys(home)


@pytest.fixture(scope="module")
def url(home: Settings, keys: LocalKeys, training_dir: Path) -> Iterator[str]:
    trades = read_dataset(training_dir)["trades"].tail(40)
    with running_server(home) as address:
        body = {
            "trades": trade_records(trades),
            "as_of": (trades["execution_ts"].max() + pd.Timedelta(hours=2)).isoformat(),
        }
        with keys.client(address, Role.FEED, timeout=60) as feed:
            feed.post("/score", json=body).raise_for_status()
        yield address


def _as(keys: LocalKeys, role: Role) -> dict[str, str]:
    return keys.headers(role)


def test_no_or_a_bad_credential_is_a_401_saying_what_is_missing(url: str) -> None:
    none = httpx.get(f"{url}/queue")
    assert none.status_code == 401 and none.headers["www-authenticate"].startswith("Bearer")
    assert "no credentials: send 'Authorization: Bearer" in none.json()["error"]
    basic = httpx.get(f"{url}/queue", headers={"authorization": "Basic YTpi"})
    assert basic.status_code == 401 and "'Basic' scheme" in basic.json()["error"]
    made_up = httpx.post(
        f"{url}/score", json={"trades": []}, headers={"authorization": "Bearer fck_1234_x"}
    )
    assert made_up.status_code == 401 and "neither a failcast API key" in made_up.json()["error"]
    wrong = httpx.get(f"{url}/queue", headers={"authorization": "Bearer fck_" + "0" * 16 + "_x"})
    assert wrong.status_code == 401 and "the API key is not valid" in wrong.json()["error"]
    for probe in ("/readyz", "/livez", "/healthz", "/ui", "/docs.json"):
        assert httpx.get(f"{url}{probe}").status_code == 200, probe


@pytest.mark.parametrize(
    ("role", "method", "route", "needs"),
    [
        (Role.FEED, "GET", "/queue", "analyst or lead"),
        (Role.ANALYST, "POST", "/score", "feed"),
        (Role.ADMIN, "POST", "/events", "feed"),
        (Role.FEED, "POST", "/trades/X/status", "analyst or lead"),
        (Role.LEAD, "POST", "/model/refresh", "admin"),
    ],
)
def test_each_role_reaches_its_routes_only(
    url: str, keys: LocalKeys, role: Role, method: str, route: str, needs: str
) -> None:
    answer = httpx.request(method, f"{url}{route}", json={}, headers=_as(keys, role))
    assert answer.status_code == 403
    assert f"{method} {route} needs the role {needs}; 'local-{role}' has {role}" in answer.text


def test_an_admin_has_the_registry_checked_now(url: str, keys: LocalKeys) -> None:
    checked = httpx.post(f"{url}/model/refresh", json={}, headers=_as(keys, Role.ADMIN))
    assert checked.status_code == 200 and checked.json()["registry"] == "ok"


def test_an_analyst_changes_their_own_teams_exceptions_as_themselves(
    url: str, keys: LocalKeys
) -> None:
    analyst, lead = _as(keys, Role.ANALYST), _as(keys, Role.LEAD)
    queue = httpx.get(f"{url}/queue", headers=analyst).raise_for_status().json()
    mine = {Team.SETTLEMENTS.value, Team.TRADE_SUPPORT.value}
    own = next(q for q in queue if q["team"] in mine)
    other = next(q for q in queue if q["team"] not in mine)
    change = {"status": "ACKNOWLEDGED", "note": "on it"}
    done = httpx.post(f"{url}/trades/{own['trade_id']}/status", json=change, headers=analyst)
    assert done.status_code == 200 and done.json()["actor"] == "local-analyst"
    refused = httpx.post(f"{url}/trades/{other['trade_id']}/status", json=change, headers=analyst)
    assert refused.status_code == 403 and f"the team {other['team']!r}" in refused.text
    posing = httpx.post(
        f"{url}/trades/{own['trade_id']}/status",
        json={"status": "RESOLVED", "actor": "failcast"},
        headers=analyst,
    )
    assert posing.status_code in (400, 422) and "actor" in posing.text  # no such field
    settled = httpx.post(
        f"{url}/trades/{own['trade_id']}/status", json={"status": "SETTLED"}, headers=analyst
    )
    assert settled.status_code == 403 and "by hand" in settled.text

    moved = httpx.post(
        f"{url}/trades/{other['trade_id']}/status",
        json={"status": other["status"], "team": Team.SETTLEMENTS.value},
        headers=lead,
    )
    assert moved.status_code == 200  # a lead reassigns: now the analyst's
    again = httpx.post(f"{url}/trades/{other['trade_id']}/status", json=change, headers=analyst)
    assert again.status_code == 200
    history = httpx.get(f"{url}/trades/{other['trade_id']}", headers=lead).json()["history"]
    assert [h["actor"] for h in history][-2:] == ["local-lead", "local-analyst"]


def test_tokens_of_the_identity_provider_are_verified(url: str, provider: IdentityProvider) -> None:
    def call(token: str) -> httpx.Response:
        return httpx.get(f"{url}/whoami", headers={"authorization": f"Bearer {token}"})

    me = call(provider.token("maria", roles=["lead"], teams=[Team.TREASURY.value]))
    assert me.status_code == 200
    assert me.json() == {"subject": "maria", "roles": ["lead"], "teams": [Team.TREASURY.value]}
    expired = call(provider.token("maria", lifetime=-120, roles=["lead"]))
    assert expired.status_code == 401 and "Signature has expired" in expired.text
    foreign = call(provider.token("maria", roles=["lead"], aud="other-api"))
    assert foreign.status_code == 401 and "Audience" in foreign.text
    no_role = call(provider.token("maria", roles=["viewer"]))
    assert no_role.status_code == 403 and "holds no failcast role" in no_role.text
    provider.rotate()
    time.sleep(1.1)
    assert call(provider.token("maria", roles=["analyst"], teams=["x"])).status_code == 200


def test_a_revoked_key_stops_working_and_everything_is_audited(
    url: str, home: Settings, keys: LocalKeys, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FAILCAST_HOME", str(home.home))
    get_settings.cache_clear()
    runner = CliRunner()
    added = runner.invoke(app, ["users", "add", "ops-bot", "--role", "feed"])
    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[-1]
    bot = {"authorization": f"Bearer {key}"}
    assert httpx.post(f"{url}/model", json={}, headers=bot).status_code == 200
    assert runner.invoke(app, ["users", "revoke", "ops-bot"]).exit_code == 0
    deadline = time.monotonic() + 10
    while httpx.post(f"{url}/model", json={}, headers=bot).status_code == 200:
        assert time.monotonic() < deadline, "the revoked key still works after 10 s"
        time.sleep(0.2)
    listed = [
        json.loads(line)
        for line in runner.invoke(app, ["users", "list", "--json"]).stdout.splitlines()
    ]
    assert {u["name"]: u["revoked"] is not None for u in listed}["ops-bot"]
    assert {"local-feed", "local-analyst", "local-lead", "local-admin"} <= {
        u["name"] for u in listed
    }

    time.sleep(1.0)  # the trail is written in batches of half a second
    trail = runner.invoke(app, ["audit", "--actor", "ops-bot", "--json"])
    assert trail.exit_code == 0, trail.output
    assert '"route": "/model", "outcome": 200' in trail.output
    everything = runner.invoke(app, ["audit", "--json", "--limit", "5000"]).output
    assert '"subject": "-", "role": "none", "action": "GET", "route": "/queue", "outcome": 401' in (
        everything
    )
    assert '"route": "users revoke", "outcome": 0, "detail": "ops-bot"' in everything
    assert '"subject": "local-analyst"' in everything and '"outcome": 403' in everything
    table = runner.invoke(app, ["audit", "--actor", "local-analyst"])
    assert "/trades/" in table.output
