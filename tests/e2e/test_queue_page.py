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

from features.data.contract import read_dataset
from serving.api.client import trade_records
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
def url(tmp_path_factory: pytest.TempPathFactory, training_dir: Path) -> Iterator[str]:
    settings = trained_home(tmp_path_factory, training_dir, "page")
    # low thresholds: enough of the last trades open exceptions for the page to show
    settings = settings.model_copy(update={"risk_high": 0.10, "risk_medium": 0.02})
    trades = read_dataset(training_dir)["trades"].tail(60)
    with running_server(settings) as address:
        as_of = (trades["execution_ts"].max() + pd.Timedelta(hours=2)).isoformat()
        body = {"trades": trade_records(trades), "as_of": as_of}
        httpx.post(f"{address}/score", json=body, timeout=60).raise_for_status()
        yield address


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    executable = _chromium()
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=executable, headless=True)
        yield launched
        launched.close()


def test_the_queue_page_lists_explains_and_acts(url: str, browser) -> None:
    queue = httpx.get(f"{url}/queue").raise_for_status().json()
    assert len(queue) >= 3, "the scored trades should open several exceptions"
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{url}/ui")
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
    trajectory = httpx.get(f"{url}/trades/{top['trade_id']}").json()["trajectory"]
    assert page.locator("#trajectory circle").count() == len(trajectory)
    page.screenshot(path=str(SCREENSHOT), full_page=True)

    # acknowledge, then resolve: the status moves and the trade leaves the queue
    page.fill("#actor", "ana")
    page.fill("#note", "agent called")
    page.click("#btn-acknowledged")
    page.locator("#history li").nth(1).wait_for()
    first_status = page.locator(f'#queue tbody tr[data-trade="{top["trade_id"]}"] .status')
    assert first_status.inner_text() == "ACKNOWLEDGED"
    assert httpx.get(f"{url}/trades/{top['trade_id']}").json()["exception"]["status"] == (
        "ACKNOWLEDGED"
    )
    page.click("#btn-resolved")
    page.locator("#history li").nth(2).wait_for()
    assert page.locator(f'#queue tbody tr[data-trade="{top["trade_id"]}"]').count() == 0
    history = httpx.get(f"{url}/trades/{top['trade_id']}").json()["history"]
    assert [(h["status"], h["actor"]) for h in history][1:] == [
        ("ACKNOWLEDGED", "ana"),
        ("RESOLVED", "ana"),
    ]

    # filters: one team, then capacity
    team = queue[1]["team"]
    page.select_option("#f-team", team)
    page.click("#apply")
    want = [q["trade_id"] for q in httpx.get(f"{url}/queue", params={"team": team}).json()]
    page.wait_for_function(
        "n => document.querySelectorAll('#queue tbody tr').length === n", arg=len(want)
    )
    assert [r.get_attribute("data-trade") for r in rows.all()] == want
    page.select_option("#f-team", "")
    page.fill("#f-capacity", "2")
    page.click("#apply")
    page.wait_for_function("() => document.querySelectorAll('#queue tbody tr').length === 2")
    assert errors == [], errors
