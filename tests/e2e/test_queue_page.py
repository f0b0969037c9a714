"""The queue page in a real headless Chromium (Debian's, driven by Playwright) against the
real service: it lists what GET /queue lists in the same order, filters by team, shows a
trade's reasons, actions and trajectory, and its buttons move the exception's status."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pandas as pd
import pytest

from core.access import Role
from core.settings import Settings
from features.data.contract import read_dataset
from serving.api.client import trade_records
from serving.api.keys import LocalKeys, local_keys
from serving.api.server import running_server
from tests.conftest import trained_home

SCREENSHOT = Path(os.environ.get("FAILCAST_SCREENSHOTS", "/tmp")) / "failcast-queue-page.png"


def _chromium() -> str:
    """Debian's Chromium, installed if missing and this machine allows it."""
    found = shutil.which("chromium")
    if found is None and shutil.which("apt-get") and os.geteuid() == 0:
        install = ["apt-get", "install", "-y", "-q", "chromium"]
        if subprocess.run(install, capture_output=True, timeout=900).returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=900)
            subprocess.run(install, capture_output=True, timeout=900)
        found = shutil.which("chromium")
    if found is None:
        pytest.skip(
            "no Chromium: install Debian's package (apt-get install chromium) to test the page"
        )
    return found


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, training_dir: Path) -> Settings:
    settings = trained_home(tmp_path_factory, training_dir, "page")
    # low thresholds: enough of the last trades open exceptions for the page to show
    return settings.model_copy(update={"risk_high": 0.10, "risk_medium": 0.02})


@pytest.fixture(scope="module")
def keys(settings: Settings) -> LocalKeys:
    return local_keys(settings)


@pytest.fixture(scope="module")
def url(settings: Settings, keys: LocalKeys, training_dir: Path) -> Iterator[str]:
    trades = read_dataset(training_dir)["trades"].tail(60)
    with running_server(settings) as address:
        as_of = (trades["execution_ts"].max() + pd.Timedelta(hours=2)).isoformat()
        body = {"trades": trade_records(trades), "as_of": as_of}
        with keys.client(address, Role.FEED, timeout=60) as feed:
            feed.post("/score", json=body).raise_for_status()
        yield address


@pytest.fixture(scope="module")
def lead(url: str, keys: LocalKeys) -> Iterator[httpx.Client]:
    with keys.client(url, Role.LEAD, timeout=60) as client:
        yield client


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


def test_the_queue_page_signs_in_lists_explains_acts_and_signs_out(
    url: str, browser, lead: httpx.Client, keys: LocalKeys
) -> None:
    queue = lead.get("/queue").raise_for_status().json()
    assert len(queue) >= 3, "the scored trades should open several exceptions"
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/ui")

    # nothing shows before sign-in; a wrong key is refused, saying why
    page.locator("#signin").wait_for()
    assert page.locator("#app").is_hidden()
    page.fill("#credential", "fck_0000000000000000_not-a-key")
    page.click("#signin-button")
    page.wait_for_function("() => document.getElementById('signin-error').textContent !== ''")
    assert "the API key is not valid" in page.locator("#signin-error").inner_text()
    page.fill("#credential", keys.keys[Role.LEAD])
    page.click("#signin-button")
    page.locator("#who-name").wait_for()
    assert page.locator("#who-name").inner_text().startswith("signed in as local-lead (lead")
    rows = page.locator("#queue tbody tr")
    rows.first.wait_for()
    assert rows.count() == len(queue)
    assert [r.get_attribute("data-trade") for r in rows.all()] == [q["trade_id"] for q in queue]
    assert page.locator("#summary").inner_text().startswith(f"{len(queue)} trade(s)")

    # a trade's reasons, actions and trajectory
    top = queue[0]
    rows.first.click()
    page.locator("#detail .reason").first.wait_for()
    texts = page.locator("#detail .reason .text").all_inner_texts()
    assert texts == [r["text"] for r in top["reasons"]]
    actions = page.locator("#detail .reason .action").all_inner_texts()
    assert actions == [f"{r['action']} ({r['team']})" for r in top["reasons"]]
    trajectory = lead.get(f"/trades/{top['trade_id']}").json()["trajectory"]
    assert page.locator("#trajectory circle").count() == len(trajectory)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # acknowledge, then resolve: the status moves and the trade leaves the queue
    page.fill("#note", "agent called")
    page.click("#btn-acknowledged")
    page.locator("#history li").nth(1).wait_for()
    first_status = page.locator(f'#queue tbody tr[data-trade="{top["trade_id"]}"] .status')
    assert first_status.inner_text() == "ACKNOWLEDGED"
    assert lead.get(f"/trades/{top['trade_id']}").json()["exception"]["status"] == ("ACKNOWLEDGED")
    page.click("#btn-resolved")
    page.locator("#history li").nth(2).wait_for()
    assert page.locator(f'#queue tbody tr[data-trade="{top["trade_id"]}"]').count() == 0
    history = lead.get(f"/trades/{top['trade_id']}").json()["history"]
    assert [(h["status"], h["actor"]) for h in history][1:] == [  # who signed in
        ("ACKNOWLEDGED", "local-lead"),
        ("RESOLVED", "local-lead"),
    ]
    assert "by local-lead" in page.locator("#history").inner_text()

    # filters: one team, then capacity
    team = queue[1]["team"]
    page.select_option("#f-team", team)
    page.click("#apply")
    want = [q["trade_id"] for q in lead.get("/queue", params={"team": team}).json()]
    page.wait_for_function(
        "n => document.querySelectorAll('#queue tbody tr').length === n", arg=len(want)
    )
    assert [r.get_attribute("data-trade") for r in rows.all()] == want
    page.select_option("#f-team", "")
    page.fill("#f-capacity", "2")
    page.click("#apply")
    page.wait_for_function("() => document.querySelectorAll('#queue tbody tr').length === 2")

    # signing out forgets the credential: the queue is gone, a reload asks again
    page.click("#signout")
    assert page.locator("#signin").is_visible() and page.locator("#app").is_hidden()
    assert page.evaluate("() => sessionStorage.getItem('failcast.credential')") is None
    page.reload()
    page.locator("#signin").wait_for()
    assert errors == [], errors
