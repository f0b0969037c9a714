"""Lifecycle re-scoring against the real stores: a model trained on a small world, the Feast
online store it was built with, and the exception store. Each event kind updates what it
should (stored lifecycle, online features, exception status), the trades it touches are
scored again as of the event, and a bad batch or a batch run twice changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.access import Principal, Role
from core.catalogue import ReceiptStatus
from core.errors import ContractError
from core.instants import epoch_us, instant
from core.settings import Settings, get_settings
from features.compute.history import account_history, counterparty_history
from features.data.contract import read_dataset
from features.reference import Reference
from features.store import feature_store
from serving.api.client import trade_records
from serving.scoring.model_store import load_served
from serving.scoring.schemas import Trade
from serving.scoring.scorer import RiskTiers, Scorer
from serving.scoring.vectors import ServingFeatures
from serving.workflow.event_models import events_adapter
from serving.workflow.events import EventProcessor
from serving.workflow.intraday import IntradayBook
from serving.workflow.store import ExceptionStore, ScoreRecord, Status
from serving.workflow.trades import as_trade
from tests.conftest import trained_home, use_settings


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, training_dir: Path) -> Settings:
    return trained_home(tmp_path_factory, training_dir, "events")


@pytest.fixture(scope="module")
def scorer(home: Settings) -> Scorer:
    features = ServingFeatures(feature_store(home), Reference.load(home))
    # every score opens an exception, so that closing and re-scoring are visible
    return Scorer(load_served(home), features, RiskTiers(high=0.5, medium=0.0))


@pytest.fixture()
def store(home: Settings, tmp_path: Path) -> Iterator[ExceptionStore]:
    opened = ExceptionStore(f"sqlite:///{tmp_path / 'exceptions.db'}")
    yield opened
    opened.close()


@pytest.fixture()
def processor(home: Settings, scorer: Scorer, store: ExceptionStore) -> EventProcessor:
    return EventProcessor(lambda: scorer, store, scorer.features.store, scorer.features.reference)


@pytest.fixture(scope="module")
def trades(training_dir: Path) -> pd.DataFrame:
    """The world's last trades, whose outcomes fall after the feature build."""
    return read_dataset(training_dir)["trades"].tail(30).reset_index(drop=True)


def _score_at_execution(scorer: Scorer, store: ExceptionStore, rows: pd.DataFrame) -> list:
    trades = [Trade.model_validate(r) for r in trade_records(rows)]
    as_of = np.array([epoch_us(t.execution_ts) for t in trades])
    scores = scorer.score(trades, as_of)
    store.record([ScoreRecord.of(s, t) for s, t in zip(scores, trades, strict=True)])
    return trades


def _events(*events: dict) -> list:
    return events_adapter.validate_python(list(events))


def _position(trade, at: dt.datetime, available: float, incoming: float) -> dict:
    return {
        "kind": "inventory",
        "account_id": trade.account_id,
        "instrument_id": trade.instrument_id,
        "as_of_ts": at.isoformat(),
        "available_qty": available,
        "incoming_qty": incoming,
    }


def _at(trade, minutes: float) -> str:
    return (trade.execution_ts + dt.timedelta(minutes=minutes)).isoformat()


def test_lifecycle_events_rescore_the_trade_and_keep_its_trajectory(
    scorer: Scorer, store: ExceptionStore, processor: EventProcessor, trades: pd.DataFrame
) -> None:
    (trade,) = _score_at_execution(scorer, store, trades.iloc[[0]])
    lifecycle = [
        {"kind": "lifecycle", "trade_id": trade.trade_id, "event_type": kind, "detail": None}
        for kind in ("ALLOCATED", "AFFIRMED", "AMENDED")
    ]
    for event, minutes in zip(lifecycle, (5, 40, 50), strict=True):
        event["event_ts"] = _at(trade, minutes)
    applied = processor.apply(_events(*lifecycle))
    again = processor.apply(_events(lifecycle[2]))  # the same amendment, delivered twice

    (rescored,) = applied.rescored
    (row,) = store.trades([trade.trade_id])
    assert row.lifecycle["affirmed_ts"] == _at(trade, 40).replace("+00:00", "Z")
    assert row.lifecycle["amendments"] == 1, "an amendment delivered twice counts once"
    assert (again.duplicates, again.events, again.rescored) == (1, {}, [])
    # the score is the model's on the stored lifecycle, as of the latest event
    as_of = epoch_us(trade.execution_ts + dt.timedelta(minutes=50))
    want = scorer.score([as_trade(row.payload, row.lifecycle)], as_of)[0]
    assert rescored.fail_probability == pytest.approx(want.fail_probability, abs=1e-12)
    with_lifecycle = scorer.run([as_trade(row.payload, row.lifecycle)], as_of).x
    assert not np.array_equal(with_lifecycle, scorer.run([trade], as_of).x, equal_nan=True)
    assert rescored.previous_probability == store.trajectory(trade.trade_id)[0].fail_probability
    assert len(store.trajectory(trade.trade_id)) == 2, "the repeated event stored no new score"

    cancel = {**lifecycle[0], "event_type": "CANCELLED", "event_ts": _at(trade, 60)}
    closed = processor.apply(_events(cancel))
    assert closed.closed == 1 and closed.rescored == []
    assert store.get(trade.trade_id).status == "RESOLVED"
    assert store.history(trade.trade_id)[-1].note.startswith("trade cancelled (")
    assert store.trades([trade.trade_id])[0].outcome == "CANCELLED"


def test_a_rescore_does_not_put_back_an_older_version_of_its_trade(
    scorer: Scorer, store: ExceptionStore, trades: pd.DataFrame
) -> None:
    """A newer version of a trade, stored (by /score's drain, say) while an event's re-score
    of it runs, stays: the re-score stores its score, not the version of the trade it read."""
    (trade,) = _score_at_execution(scorer, store, trades.iloc[[1]])
    amended = trade.model_copy(update={"notional": trade.notional * 2})

    def store_the_amended_trade() -> None:  # between the re-score's read and its write
        (score,) = scorer.score([amended], epoch_us(trade.execution_ts))
        store.record([ScoreRecord.of(score, amended)])

    processor = EventProcessor(
        lambda: scorer,
        store,
        scorer.features.store,
        scorer.features.reference,
        before_rescoring=store_the_amended_trade,
    )
    event = {"kind": "lifecycle", "trade_id": trade.trade_id, "event_type": "ALLOCATED"}
    applied = processor.apply(_events({**event, "event_ts": _at(trade, 5)}))

    assert [r.trade_id for r in applied.rescored] == [trade.trade_id]
    (row,) = store.trades([trade.trade_id])
    assert row.payload["notional"] == pytest.approx(amended.notional)
    assert row.lifecycle["allocated_ts"] is not None, "the event's lifecycle step is kept"


def test_an_inventory_update_reaches_the_features_of_the_trades_it_covers(
    scorer: Scorer, store: ExceptionStore, processor: EventProcessor, trades: pd.DataFrame
) -> None:
    sells = trades[trades["side"] == "SELL"]
    (trade,) = _score_at_execution(scorer, store, sells.iloc[[0]])
    at = trade.execution_ts + dt.timedelta(minutes=20)
    event = _position(trade, at, available=trade.quantity * 0.25, incoming=trade.quantity * 0.5)
    applied = processor.apply(_events(event))
    assert applied.pushed == {"position": 1}
    assert trade.trade_id in {r.trade_id for r in applied.rescored}
    vectors = scorer.run([trade], epoch_us(at)).vectors
    assert vectors.column("inventory_coverage")[0] == pytest.approx(0.75)
    assert vectors.column("available_coverage")[0] == pytest.approx(0.25)
    assert store.trajectory(trade.trade_id)[-1].scored_at.replace(tzinfo=dt.UTC) == at


def test_an_ssi_change_reaches_the_trades_settling_on_it(
    scorer: Scorer, store: ExceptionStore, processor: EventProcessor, trades: pd.DataFrame
) -> None:
    (trade,) = _score_at_execution(scorer, store, trades.iloc[[1]])
    asset_class = scorer.features.reference.asset_class([trade.instrument_id])[0]
    at = trade.execution_ts + dt.timedelta(hours=1)
    event = {
        "kind": "ssi",
        "counterparty_id": trade.counterparty_id,
        "market": trade.settlement_market,
        "asset_class": asset_class,
        "version": 99,
        "valid_from_ts": at.isoformat(),
        "verified_ts": None,
    }
    before = scorer.run([trade], epoch_us(at)).vectors
    applied = processor.apply(_events(event))
    assert applied.pushed == {"ssi_state": 1}
    assert trade.trade_id in {r.trade_id for r in applied.rescored}
    after = scorer.run([trade], epoch_us(at)).vectors
    assert after.column("ssi_age_days")[0] == 0.0
    assert after.column("ssi_unverified")[0] == 1.0
    assert after.column("ssi_changes_90d")[0] >= 1.0
    assert before.column("ssi_age_days")[0] > 0.0
    # a version older than the one in force (a late verification, say) changes nothing
    stale = {
        **event,
        "valid_from_ts": (at - dt.timedelta(days=400)).isoformat(),
        "verified_ts": at.isoformat(),
    }
    ignored = processor.apply(_events(stale))
    assert ignored.pushed == {"ssi_state": 0} and ignored.rescored == []
    again = scorer.run([trade], epoch_us(at)).vectors
    np.testing.assert_array_equal(again.matrix, after.matrix)


def test_an_outcome_closes_the_exception_and_moves_the_counterparty_and_account(
    scorer: Scorer, store: ExceptionStore, processor: EventProcessor, trades: pd.DataFrame
) -> None:
    counterparty = trades["counterparty_id"].value_counts().index[0]
    rows = trades[trades["counterparty_id"] == counterparty].iloc[:2].copy()
    rows.iloc[0, rows.columns.get_loc("trade_id")] = "LIVE-1"  # a trade the build never saw
    live, other = _score_at_execution(scorer, store, rows)
    reference = scorer.features.reference
    # known after the build's last row: the online rows are then recomputed as of ``known``
    horizon = instant(int(reference.manifest["horizon_us"]))
    known = max(max(t.execution_ts for t in (live, other)) + dt.timedelta(days=1), horizon)
    known += dt.timedelta(hours=1)
    outcome = {
        "kind": "outcome",
        "trade_id": "LIVE-1",
        "status": "FAILED",
        "settled_ts": None,
        "days_late": 1,
        "fail_reason": "LACK_OF_SECURITIES",
        "known_ts": known.isoformat(),
    }
    without = counterparty_history(
        reference.trade_facts(),
        reference.ssi_changes(),
        at=(np.array([counterparty]), epoch_us(known)),
    )["cpty_outcomes_90d"].iloc[0]

    def account_rate() -> float:
        rows = account_history(
            reference.trade_facts(), at=(np.array([live.account_id]), epoch_us(known))
        )
        return float(rows["acct_cash_fail_rate_90d"].iloc[0])

    account_before = account_rate()
    applied = processor.apply(_events(outcome))
    assert applied.pushed == {"counterparty_history": 1, "account_history": 1}
    rescored = {r.trade_id for r in applied.rescored}
    assert other.trade_id in rescored and "LIVE-1" not in rescored
    for trade_id in rescored:  # each shares the counterparty or the account whose history
        # moved, or is a sell of the instrument that may wait on the live trade (a buy)
        row = store.trades([trade_id])[0]
        assert (
            row.counterparty_id == counterparty
            or row.account_id == live.account_id
            or (live.side == "BUY" and row.instrument_id == live.instrument_id)
        )
    assert store.get("LIVE-1").status == "FAILED"
    assert "LIVE-1" not in {e.trade_id for e in store.queue()}
    assert "LIVE-1" in set(reference.trade_facts().trade_id), "kept for later pushes"
    online = scorer.run([other], epoch_us(known)).vectors.column("cpty_outcomes_90d")[0]
    assert online == without + 1, "the live trade's outcome counts in its counterparty's history"
    # and in its account's: what the next build would compute, online at once
    served = scorer.run([live], epoch_us(known)).vectors.column("acct_cash_fail_rate_90d")[0]
    assert served == pytest.approx(account_rate()) and served != pytest.approx(account_before)


def test_a_failed_buy_rescores_the_sell_waiting_on_its_receipt(
    home: Settings, store: ExceptionStore, trades: pd.DataFrame
) -> None:
    # the service's set-up: scoring reads our book from the exception store
    book = IntradayBook(store)
    features = ServingFeatures(feature_store(home), Reference.load(home), book=book.state)
    scorer = Scorer(load_served(home), features, RiskTiers(high=0.5, medium=0.0))
    processor = EventProcessor(
        lambda: scorer, store, features.store, features.reference, before_rescoring=book.refresh
    )
    first = trades.iloc[[0]]
    buy = first.assign(trade_id="LIVE-BUY", side="BUY")
    sell = first.assign(
        trade_id="LIVE-SELL",
        side="SELL",
        execution_ts=first["execution_ts"] + pd.Timedelta(minutes=10),
    )
    _score_at_execution(scorer, store, buy)
    book.refresh()
    (live_sell,) = _score_at_execution(scorer, store, sell)
    known = dt.datetime.combine(
        live_sell.settlement_date + dt.timedelta(days=1), dt.time(6), dt.UTC
    )
    before = scorer.run([live_sell], epoch_us(known)).vectors.column("receipt_status")[0]
    assert before == ReceiptStatus.UNAFFIRMED  # the buy: not affirmed, not yet settled
    affirmed_at = live_sell.execution_ts + dt.timedelta(minutes=30)
    affirmed = {
        "kind": "lifecycle",
        "trade_id": "LIVE-BUY",
        "event_type": "AFFIRMED",
        "event_ts": affirmed_at.isoformat(),
        "detail": None,
    }
    applied = processor.apply(_events(affirmed))
    assert "LIVE-SELL" in {r.trade_id for r in applied.rescored}
    now_affirmed = scorer.run([live_sell], epoch_us(affirmed_at)).vectors
    assert now_affirmed.column("receipt_status")[0] == ReceiptStatus.AFFIRMED
    failed = {
        "kind": "outcome",
        "trade_id": "LIVE-BUY",
        "status": "FAILED",
        "settled_ts": None,
        "days_late": 1,
        "fail_reason": "LACK_OF_SECURITIES",
        "known_ts": known.isoformat(),
    }
    applied = processor.apply(_events(failed))
    (rescored,) = [r for r in applied.rescored if r.trade_id == "LIVE-SELL"]
    assert rescored.scored_at == known
    served = scorer.run([live_sell], epoch_us(known)).vectors
    assert served.column("receipt_status")[0] == ReceiptStatus.FAILED
    assert served.column("receipt_days_before_isd")[0] == 0
    # the stored score is the model's on the failed receipt
    assert rescored.fail_probability == pytest.approx(
        scorer.score([live_sell], epoch_us(known))[0].fail_probability, abs=1e-12
    )


def test_a_bad_batch_changes_nothing(
    scorer: Scorer, store: ExceptionStore, processor: EventProcessor, trades: pd.DataFrame
) -> None:
    (trade,) = _score_at_execution(scorer, store, trades.iloc[[2]])
    at = trade.execution_ts + dt.timedelta(minutes=30)
    inventory = _position(trade, at, available=0.0, incoming=0.0)
    unknown = {
        "kind": "lifecycle",
        "trade_id": "NEVER-SCORED",
        "event_ts": at.isoformat(),
        "event_type": "AFFIRMED",
        "detail": None,
    }
    before = scorer.run([trade], epoch_us(at)).vectors.matrix.copy()
    counts = store.counts()
    with pytest.raises(ContractError, match="trade never scored: NEVER-SCORED"):
        processor.apply(_events(inventory, unknown))
    np.testing.assert_array_equal(scorer.run([trade], epoch_us(at)).vectors.matrix, before)
    assert store.counts() == counts

    with pytest.raises(ValueError, match="event_type"):
        _events({**unknown, "event_type": "SHIPPED"})
    with pytest.raises(ValueError, match="available_qty"):
        _events({**inventory, "available_qty": -1.0})


def test_the_ops_lead_report_shows_the_days_risk_and_how_the_scores_did(
    scorer: Scorer, store: ExceptionStore, processor: EventProcessor, training_dir: Path
) -> None:
    import base64
    import re

    from pipelines.reports.day import day_report, render

    dataset = read_dataset(training_dir)
    day = dataset["trades"]["settlement_date"].iloc[-200]
    rows = dataset["trades"].loc[dataset["trades"]["settlement_date"] == day]
    trades = _score_at_execution(scorer, store, rows)
    scores = scorer.score(trades, np.array([epoch_us(t.execution_ts) for t in trades]))
    report = day_report(store, day.date(), scorer, medium=scorer.tiers.medium, top=3)
    page = render(report)
    assert f"<title>failcast report: trades settling {day:%Y-%m-%d}</title>" in page
    assert re.search(rf'<div class="v">{len(rows):,}</div><div>trades settling</div>', page)

    # the top at-risk trades, costliest first, each with a waterfall of its exact SHAP values
    at_risk = [s for s in scores if s.risk_tier != "LOW"]
    want = [s.trade_id for s in sorted(at_risk, key=lambda s: -s.expected_cost_usd)[:3]]
    top_table = page.split('<table class="top-trades">')[1].split("</table>")[0]
    assert re.findall(r"<tr><td>([^<]+)</td>", top_table) == want
    latest = {s.trade_id: s.fail_probability for s in scores}
    for e in report.explanations:
        phi = sum(c.contribution for c in e.contributions)
        assert e.base_value + phi == pytest.approx(e.raw_score, abs=1e-9)
        assert e.fail_probability == pytest.approx(latest[e.trade_id], abs=1e-12)
    pattern = r'<img src="data:image/png;base64,([^"]+)"[^>]*data-trade="([^"]+)"'
    images = {trade_id: data for data, trade_id in re.findall(pattern, page)}
    assert list(images) == want
    assert all(base64.b64decode(d)[:8] == b"\x89PNG\r\n\x1a\n" for d in images.values())

    # risk by counterparty: the costliest one and its total
    by_cpty: dict[str, float] = {}
    for s, t in zip(scores, trades, strict=True):
        by_cpty[t.counterparty_id] = by_cpty.get(t.counterparty_id, 0.0) + s.expected_cost_usd
    name, total = max(by_cpty.items(), key=lambda kv: kv[1])
    first = page.split('<table class="by-counterparty">')[1].split("<tbody><tr>")[1]
    assert first.startswith(f"<td>{name}</td>") and f"<td>{total:,.0f}</td>" in first

    # how the scores did, on the trades whose outcome arrived since
    outcomes = dataset["outcomes"].set_index("trade_id").loc[rows["trade_id"]].reset_index()
    decided = outcomes.iloc[: len(outcomes) // 2]
    records = decided.astype(object).where(decided.notna(), None).to_dict("records")
    processor.apply(_events(*({"kind": "outcome", **r} for r in records)))

    report = day_report(store, day.date(), scorer, medium=scorer.tiers.medium, top=3)
    page = render(report)
    failed = int((decided["status"] == "FAILED").sum())
    settled_or_failed = int(decided["status"].isin(["SETTLED", "FAILED"]).sum())
    assert f"<tr><td>trades settled or failed</td><td>{settled_or_failed:,}</td></tr>" in page
    assert f"<tr><td>failed</td><td>{failed:,} (expected" in page
    assert report.weeks.loc["this week", "trades"] >= len(rows)
    assert '<section id="week-over-week">' in page and '<table class="weeks">' in page

    # who acted: the people's changes to the day's exceptions, never failcast's own
    assert "No one has changed an exception of this date yet." in page
    lead = Principal("ana", frozenset({Role.LEAD}))
    queued = store.queue(settlement_date=day.date())
    moved = [e.trade_id for e in queued if e.status == "OPEN"][:2]
    assert len(moved) == 2
    for trade_id in moved:
        store.transition(trade_id, Status.ACKNOWLEDGED, lead, note="agent called")
    page = render(day_report(store, day.date(), scorer, medium=scorer.tiers.medium, top=3))
    who = page.split('<table class="who-acted">')[1].split("</table>")[0]
    assert "<tr><td>ana</td><td>2</td></tr>" in who and "failcast" not in who
    recent = page.split('<table class="latest-actions">')[1].split("</table>")[0]
    assert all(f"<td>{t}</td><td>ACKNOWLEDGED</td><td>agent called</td>" in recent for t in moved)


def test_the_report_defaults_to_the_latest_date_sums_usd_and_draws_any_id(
    home: Settings,
    scorer: Scorer,
    tmp_path: Path,
    training_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from matplotlib.patches import Rectangle
    from typer.testing import CliRunner

    from pipelines.cli import app
    from pipelines.reports.plots import dimension_figure

    url = f"sqlite:///{tmp_path / 'report.db'}"
    store = ExceptionStore(url)
    dataset = read_dataset(training_dir)["trades"]
    last = dataset["settlement_date"].max()
    rows = dataset.loc[dataset["settlement_date"] == last].head(12).copy()
    rows["trade_id"] = [f"C$\\x${n}" for n in range(len(rows))]  # mathtext, were it parsed
    _score_at_execution(scorer, store, rows)
    assert store.last_settlement_date() == last.date()

    book = pd.DataFrame(store.book(last.date(), last.date()))
    book["at_risk"] = book["risk_tier"] != "LOW"
    figure = dimension_figure(book)
    bars = [p for p in figure.axes[3].patches if isinstance(p, Rectangle)]  # by market
    by_market = book.groupby("settlement_market")["expected_cost_usd"].sum()  # whatever ccy
    assert sorted(b.get_width() for b in bars) == pytest.approx(sorted(by_market))
    store.close()

    use_settings(home, monkeypatch)
    monkeypatch.setenv("FAILCAST_EXCEPTION_STORE_URL", url)
    out = tmp_path / "report.html"
    done = CliRunner().invoke(app, ["report", "--out", str(out), "--top", "3"])
    assert done.exit_code == 0, done.output
    assert f"trades settling {last:%Y-%m-%d}" in out.read_text()
    assert f"{len(rows)} trades settling {last.date()}" in done.output

    monkeypatch.setenv("FAILCAST_EXCEPTION_STORE_URL", f"sqlite:///{tmp_path / 'empty.db'}")
    get_settings.cache_clear()
    empty = CliRunner().invoke(app, ["report"])
    assert empty.exit_code != 0 and "no scored trade stored" in empty.output
