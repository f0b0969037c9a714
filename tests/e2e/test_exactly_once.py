"""Events are applied exactly once, against the real stores: a batch sent again changes
nothing, an id sent again with other content is refused, a batch taken in but not finished
(the state a crash between the two transactions leaves) is finished by the next call, a
batch that cannot be applied becomes a dead letter without stopping the others, and
writers side by side (threads, each with its own connections) apply each event once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from core.errors import Conflict
from core.instants import epoch_us, instant
from core.settings import Settings
from features.data.contract import read_dataset
from features.reference import PUSHED_OUTCOMES_TABLE, Reference
from features.store import feature_store
from serving.api.client import trade_records
from serving.scoring.model_store import load_served
from serving.scoring.schemas import Trade
from serving.scoring.scorer import RiskTiers, Scorer
from serving.scoring.vectors import ServingFeatures
from serving.workflow.event_models import AnyEvent, event_key, events_adapter
from serving.workflow.events import LEASE, MAX_ATTEMPTS, EventProcessor
from serving.workflow.store import ExceptionStore, OutboxEntry, ScoreRecord
from tests.conftest import trained_home


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, training_dir: Path) -> Settings:
    return trained_home(tmp_path_factory, training_dir, "once")


@pytest.fixture(scope="module")
def scorer(home: Settings) -> Scorer:
    features = ServingFeatures(feature_store(home), Reference.load(home))
    return Scorer(load_served(home), features, RiskTiers(high=0.5, medium=0.0))


@pytest.fixture()
def store(tmp_path: Path) -> Iterator[ExceptionStore]:
    opened = ExceptionStore(f"sqlite:///{tmp_path / 'exceptions.db'}")
    yield opened
    opened.close()


def _processor(scorer: Scorer, store: ExceptionStore) -> EventProcessor:
    return EventProcessor(lambda: scorer, store, scorer.features.store, scorer.features.reference)


@pytest.fixture(scope="module")
def trades(training_dir: Path) -> pd.DataFrame:
    return read_dataset(training_dir)["trades"].tail(40).reset_index(drop=True)


def _scored(scorer: Scorer, store: ExceptionStore, rows: pd.DataFrame) -> list[Trade]:
    trades = [Trade.model_validate(r) for r in trade_records(rows)]
    scores = scorer.score(trades, np.array([epoch_us(t.execution_ts) for t in trades]))
    store.record([ScoreRecord.of(s, t) for s, t in zip(scores, trades, strict=True)])
    return trades


def _lifecycle(trade: Trade, kind: str, minutes: float, **extra: object) -> dict[str, object]:
    at = trade.execution_ts + dt.timedelta(minutes=minutes)
    return {
        "kind": "lifecycle",
        "trade_id": trade.trade_id,
        "event_type": kind,
        "event_ts": at.isoformat(),
        "detail": None,
        **extra,
    }


def _outcome(trade: Trade, known: dt.datetime) -> dict[str, object]:
    return {
        "kind": "outcome",
        "trade_id": trade.trade_id,
        "status": "FAILED",
        "settled_ts": None,
        "days_late": 1,
        "fail_reason": "LACK_OF_SECURITIES",
        "known_ts": known.isoformat(),
    }


def _after_build(scorer: Scorer, trades: list[Trade]) -> dt.datetime:
    """An instant after the build's last row and the trades' settlement."""
    horizon = instant(int(scorer.features.reference.manifest["horizon_us"]))
    latest = max(t.execution_ts for t in trades) + dt.timedelta(days=8)
    return max(horizon, latest) + dt.timedelta(hours=1)


def _events(*events: dict[str, object]) -> list[AnyEvent]:
    return events_adapter.validate_python(list(events))


def _snapshot(store: ExceptionStore, reference: Reference, trade_ids: list[str]) -> tuple:
    trajectories = {t: len(store.trajectory(t)) for t in trade_ids}
    return store.counts(), trajectories, len(reference.pushed(PUSHED_OUTCOMES_TABLE))


def test_a_batch_sent_again_changes_nothing(
    scorer: Scorer, store: ExceptionStore, trades: pd.DataFrame
) -> None:
    processor = _processor(scorer, store)
    a, b, c = _scored(scorer, store, trades.iloc[[0, 1, 2]])
    batch = _events(
        _lifecycle(a, "ALLOCATED", 5),
        _lifecycle(a, "AFFIRMED", 30, event_id="desk-7:affirm:1"),
        _lifecycle(b, "AMENDED", 20),
        _outcome(c, _after_build(scorer, [a, b, c])),
    )
    first = processor.apply(batch)
    assert first.events == {"lifecycle": 3, "outcome": 1} and first.duplicates == 0
    assert {r.trade_id for r in first.rescored} == {a.trade_id, b.trade_id}
    reference = scorer.features.reference
    before = _snapshot(store, reference, [a.trade_id, b.trade_id])

    again = processor.apply(batch)
    assert (again.events, again.duplicates, again.pending) == ({}, 4, 0)
    assert again.rescored == [] and again.pushed == {} and again.closed == 0
    assert _snapshot(store, reference, [a.trade_id, b.trade_id]) == before
    (row,) = store.trades([b.trade_id])
    assert row.lifecycle["amendments"] == 1, "an amendment sent twice counts once"

    # part of it again, beside a new event: only the new one is applied
    mixed = processor.apply(batch[1:2] + _events(_lifecycle(b, "MATCHED", 50)))
    assert (mixed.events, mixed.duplicates) == ({"lifecycle": 1}, 1)
    assert [r.trade_id for r in mixed.rescored] == [b.trade_id]


def test_an_event_id_sent_again_with_other_content_is_refused(
    scorer: Scorer, store: ExceptionStore, trades: pd.DataFrame
) -> None:
    processor = _processor(scorer, store)
    (trade,) = _scored(scorer, store, trades.iloc[[3]])
    processor.apply(_events(_lifecycle(trade, "ALLOCATED", 5, event_id="E-1")))
    before = store.counts(), store.trades([trade.trade_id])[0].lifecycle

    with pytest.raises(Conflict, match="event_id: E-1 received before with other content"):
        processor.apply(_events(_lifecycle(trade, "AFFIRMED", 40, event_id="E-1")))
    with pytest.raises(Conflict, match=r"events\[1\]\.event_id 'E-2': given twice"):
        processor.apply(
            _events(
                _lifecycle(trade, "AFFIRMED", 40, event_id="E-2"),
                _lifecycle(trade, "MATCHED", 45, event_id="E-2"),
            )
        )
    assert (store.counts(), store.trades([trade.trade_id])[0].lifecycle) == before


def test_a_batch_taken_in_but_not_finished_is_finished_by_the_next_call(
    scorer: Scorer, store: ExceptionStore, trades: pd.DataFrame
) -> None:
    """What a crash between taking events in and dispatching them leaves: the inbox and
    outbox written, the lifecycle stored, no new score, no push."""
    processor = _processor(scorer, store)
    (trade,) = _scored(scorer, store, trades.iloc[[4]])
    (event,) = _events(_lifecycle(trade, "AFFIRMED", 30))
    key, digest = event_key(event)
    entry = OutboxEntry(
        events=[event.model_dump(mode="json")],
        rescore={trade.trade_id: event.event_ts.isoformat()},
    )
    taken = store.accept([(key, digest, "lifecycle")], entry, [], lease=LEASE)
    assert taken is not None
    assert len(store.trajectory(trade.trade_id)) == 1

    # its claim has not run out: the sender, trying again, is told it is still pending
    pending = processor.apply([event])
    assert (pending.duplicates, pending.pending, pending.rescored) == (1, 1, [])

    # once the claim has run out (the process that took it died), the next call finishes it
    later = dt.datetime.now(dt.UTC) + LEASE + dt.timedelta(seconds=1)
    assert [e.id for e in store.claimable(10, now=later)] == [taken[0]]
    entry_id = taken[0]
    store.release(entry_id, None, MAX_ATTEMPTS)  # as if the lease were over
    done = processor.apply([event])
    assert (done.duplicates, done.pending) == (1, 0)
    assert [r.trade_id for r in done.rescored] == [trade.trade_id]
    assert len(store.trajectory(trade.trade_id)) == 2
    assert store.undone([entry_id]) == set()
    assert processor.apply([event]).rescored == [], "finished once, never again"


def test_a_batch_that_cannot_be_applied_is_a_dead_letter_and_stops_nothing(
    scorer: Scorer, store: ExceptionStore, trades: pd.DataFrame
) -> None:
    processor = _processor(scorer, store)
    good, other = _scored(scorer, store, trades.iloc[[5, 6]])
    # an inventory event for an account the build never saw, taken in around the checks
    poison = {
        "kind": "inventory",
        "account_id": "NO-SUCH-ACCOUNT",
        "instrument_id": good.instrument_id,
        "as_of_ts": (good.execution_ts + dt.timedelta(minutes=10)).isoformat(),
        "available_qty": 0.0,
        "incoming_qty": 0.0,
    }
    (event,) = _events(poison)
    key, digest = event_key(event)
    entry = OutboxEntry(events=[event.model_dump(mode="json")], rescore={})
    taken = store.accept([(key, digest, "inventory")], entry, [], lease=dt.timedelta(0))
    assert taken is not None

    for attempt in range(MAX_ATTEMPTS):
        applied = processor.apply(_events(_lifecycle(good, "ALLOCATED", 5 + attempt)))
        assert applied.events == {"lifecycle": 1}, "the other events proceed"
    total, letters = store.dead_letters()
    assert total == 1 and letters[0].source == f"outbox:{taken[0]}"
    assert "unknown account_id: NO-SUCH-ACCOUNT" in letters[0].error
    assert store.undone([taken[0]]) == set() and store.pending_entries() == 0
    assert processor.apply(_events(_lifecycle(other, "ALLOCATED", 5))).events == {"lifecycle": 1}


def _writers_side_by_side(
    url: str, scorer: Scorer, batches: list[list[AnyEvent]], writers: int
) -> list[int]:
    """Every writer applies every batch (in its own order), at once; the events each took in."""
    took = [0] * writers
    errors: list[BaseException] = []
    start = threading.Barrier(writers)

    def run(n: int) -> None:
        store = ExceptionStore(url)
        processor = _processor(scorer, store)
        try:
            start.wait()
            for batch in batches[n:] + batches[:n]:
                took[n] += sum(processor.apply(batch).events.values())
        except BaseException as exc:  # reported below
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(writers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return took


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_writers_side_by_side_apply_each_event_once(
    database: str,
    scorer: Scorer,
    trades: pd.DataFrame,
    tmp_path: Path,
    request: pytest.FixtureRequest,
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'exceptions.db'}"
        if database == "sqlite"
        else request.getfixturevalue("postgres_url")
    )
    store = ExceptionStore(url)
    rows = _scored(scorer, store, trades.iloc[10:22])
    steps = ("ALLOCATED", "CONFIRMED", "AFFIRMED")
    batches = [
        _events(*(_lifecycle(t, step, 5 + 10 * i) for t in rows[k::3]))
        for i, step in enumerate(steps)
        for k in range(3)
    ]
    took = _writers_side_by_side(url, scorer, batches, writers=3)

    events = sum(len(b) for b in batches)
    assert sum(took) == events, "each event taken in by exactly one writer"
    for trade in rows:
        (row,) = store.trades([trade.trade_id])
        assert all(row.lifecycle[f"{step.lower()}_ts"] is not None for step in steps)
        # one score at execution, one per lifecycle event: none lost, none twice
        assert len(store.trajectory(trade.trade_id)) == 1 + len(steps)
    assert store.pending_entries() == 0
    store.close()
