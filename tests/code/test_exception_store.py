"""The exception store on SQLite and on the real PostgreSQL server: at-risk trades open one
exception each, the queue is ordered by expected cost, statuses follow the workflow with a
history, and writes are transactional and idempotent, even when a run is killed midway."""

from __future__ import annotations

import datetime as dt
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import InvalidTransition
from serving.workflow.store import ExceptionStore, Status
from tests.records import ISD, T0, score, traded


def test_at_risk_trades_open_exceptions_queued_by_expected_cost(store: ExceptionStore) -> None:
    recorded = store.record(
        [
            score("T1", 0.30, 500.0),
            score("T2", 0.12, 900.0, team="Treasury"),
            score("T3", 0.02, 5_000.0),  # low risk: scored, not queued
            score("T4", 0.60, 50.0),
        ]
    )
    assert (recorded.scores, recorded.opened, recorded.updated) == (4, 3, 0)
    assert [e.trade_id for e in store.queue()] == ["T2", "T1", "T4"]
    assert [e.trade_id for e in store.queue(capacity=2)] == ["T2", "T1"]
    assert [e.trade_id for e in store.queue(team="Treasury")] == ["T2"]
    assert store.queue(settlement_date=ISD + dt.timedelta(days=1)) == []
    assert store.history("T1")[0].status == "OPEN"
    assert "P(fail) 30.0%" in store.history("T1")[0].note


def test_the_queue_ranks_costs_in_one_currency(store: ExceptionStore) -> None:
    store.record([score("YEN", 0.30, 100_000.0, currency="JPY"), score("DOLLAR", 0.30, 1_000.0)])
    assert [e.trade_id for e in store.queue()] == ["DOLLAR", "YEN"]  # ¥100,000 is about $670
    assert store.get("YEN").expected_cost_usd == pytest.approx(670.0)


def test_a_newer_score_refreshes_the_exception_and_an_older_one_does_not(
    store: ExceptionStore,
) -> None:
    store.record([score("T1", 0.30, 500.0)])
    store.record([score("T1", 0.45, 800.0, minutes=60, stage="CUTOFF")])
    store.record([score("T1", 0.11, 10.0, minutes=30)])  # late arrival of an older score
    (row,) = store.queue()
    assert (row.stage, row.expected_cost) == ("CUTOFF", 800.0)
    assert [s.stage for s in store.trajectory("T1")] == ["EXECUTION", "EXECUTION", "CUTOFF"]
    assert [s.fail_probability for s in store.trajectory("T1")] == [0.30, 0.11, 0.45]


def test_statuses_follow_the_workflow_with_a_history(store: ExceptionStore) -> None:
    store.record([score("T1", 0.30, 500.0), score("T2", 0.30, 400.0)])
    store.transition("T1", Status.ACKNOWLEDGED, actor="ana")
    store.transition("T1", "RESOLVED", actor="ana", action_taken="SSI confirmed by call-back")
    store.transition("T2", Status.SETTLED, actor="failcast")
    assert store.queue() == []
    assert [(h.status, h.actor) for h in store.history("T1")] == [
        ("OPEN", "failcast"),
        ("ACKNOWLEDGED", "ana"),
        ("RESOLVED", "ana"),
    ]
    with pytest.raises(InvalidTransition, match="cannot go from SETTLED to OPEN; allowed: none"):
        store.transition("T2", Status.OPEN, actor="ana")
    with pytest.raises(InvalidTransition, match="'T9': no exception"):
        store.transition("T9", Status.ACKNOWLEDGED, actor="ana")
    with pytest.raises(ValueError, match="'DONE' is not a valid Status"):
        store.transition("T1", "DONE", actor="ana")
    assert len(store.history("T2")) == 2  # the refused changes wrote nothing


def test_recording_a_batch_twice_duplicates_nothing(store: ExceptionStore) -> None:
    batch = [score(f"T{i}", 0.2 + i / 100, 100.0 * i) for i in range(20)]
    store.record(batch)
    again = store.record(batch)
    assert (again.scores, again.opened) == (0, 0)
    assert store.counts() == {"scores": 20, "exceptions": 20, "history": 20, "trades": 0}


_WRITER = """
import sys, datetime as dt
sys.path.insert(0, sys.argv[3])
from tests.records import score
from serving.workflow.store import ExceptionStore
store = ExceptionStore(sys.argv[1])
batch = [score(f"T{i}", 0.3, float(i), minutes=i % 7) for i in range(int(sys.argv[2]))]
print("writing", flush=True)
store.record(batch)
print("done", flush=True)
"""


def test_a_run_killed_midway_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'exceptions.db'}"
    root = str(Path(__file__).resolve().parents[2])
    rows = 30_000
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, url, str(rows), root], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "writing"
    time.sleep(0.3)
    child.send_signal(signal.SIGKILL)
    out = child.communicate()[0]
    assert "done" not in out, "the batch finished before it could be killed; use a larger one"
    store = ExceptionStore(url)
    assert store.counts() == {"scores": 0, "exceptions": 0, "history": 0, "trades": 0}
    for _ in range(2):  # the re-run, and a second one for good measure
        done = subprocess.run(
            [sys.executable, "-c", _WRITER, url, str(rows), root], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr[-2000:]
    assert store.counts() == {"scores": rows, "exceptions": rows, "history": rows, "trades": 0}


def test_an_exception_is_found_whatever_its_status(store: ExceptionStore) -> None:
    store.record([score("T1", 0.30, 500.0)])
    store.transition("T1", Status.RESOLVED, actor="ana", action_taken="borrowed")
    found = store.get("T1")
    assert (found.status, found.action_taken) == ("RESOLVED", "borrowed")
    assert store.get("T2") is None


def test_an_exception_failcast_resolved_reopens_when_the_risk_returns(
    store: ExceptionStore,
) -> None:
    """MEDIUM at execution, LOW once affirmed, HIGH on ISD-1: back in the queue, saying why."""
    store.record([traded("T1", 0.15)])
    fell = store.record([traded("T1", 0.04, minutes=60, stage="CUTOFF")])
    assert fell.closed == 1 and store.get("T1").status == "RESOLVED" and store.queue() == []
    rose = store.record([traded("T1", 0.40, minutes=600, stage="ISD_1")])
    assert rose.reopened == 1
    assert [e.trade_id for e in store.queue()] == ["T1"]
    assert store.hidden_risk() == []
    assert store.get("T1").risk_tier == "HIGH"
    last = store.history("T1")[-1]
    assert (last.status, last.actor) == ("OPEN", "failcast")
    assert (
        last.note.startswith("reopened at ISD_1: HIGH risk") and "resolved by failcast" in last.note
    )


def test_an_exception_a_person_resolved_reopens_only_above_their_tier(
    store: ExceptionStore,
) -> None:
    store.record([traded("T1", 0.15)])
    store.transition("T1", Status.RESOLVED, actor="ana", note="counterparty confirmed")
    same = store.record([traded("T1", 0.20, minutes=30, stage="CUTOFF")])
    assert same.reopened == 0 and store.get("T1").status == "RESOLVED"
    assert store.hidden_risk() == [], "a person's resolution is a decision, not hidden risk"
    assert store.get("T1").fail_probability == 0.20, "a resolved exception keeps the newest score"
    higher = store.record([traded("T1", 0.50, minutes=60, stage="CUTOFF")])
    assert higher.reopened == 1 and store.get("T1").status == "OPEN"
    assert "resolved by ana at MEDIUM risk" in store.history("T1")[-1].note


def test_a_cancelled_trade_never_reopens(store: ExceptionStore) -> None:
    from serving.workflow.store import TradeUpdate

    store.record([traded("T1", 0.30)])
    store.record([], updates=[TradeUpdate("T1", T0, outcome="CANCELLED")])
    again = store.record([traded("T1", 0.90, minutes=30)])
    assert again.reopened == 0 and store.get("T1").status == "RESOLVED"


def test_a_trade_past_its_deadline_with_no_outcome_is_overdue_until_it_arrives(
    tmp_path: Path,
) -> None:
    """The store's clock follows the events (as in a replay): once it passes the end of the
    ISD plus the grace, the at-risk trade and the quiet one are both OVERDUE, first in the
    queue, and stay there whatever the score, until their outcomes arrive."""
    from serving.workflow.store import TradeUpdate

    store = ExceptionStore(
        f"sqlite:///{tmp_path / 'x.db'}", clock="events", grace=dt.timedelta(hours=2)
    )
    store.record([traded("RISKY", 0.30), traded("QUIET", 0.02)])
    assert store.sweep() == 0 and [e.trade_id for e in store.queue()] == ["RISKY"]
    # the end of the ISD in New York is 04:00 UTC the day after; two hours' grace
    before = T0.replace(day=5, hour=5, minute=59) - T0
    store.record([], updates=[TradeUpdate("OTHER", T0 + before)])
    assert store.sweep() == 0, "within the grace"
    later = store.record([traded("RISKY", 0.01, minutes=int(before.total_seconds() // 60) + 2)])
    assert later.overdue == 2
    assert {e.trade_id: e.status for e in store.queue()} == {"RISKY": "OVERDUE", "QUIET": "OVERDUE"}
    assert store.history("QUIET")[-1].note.startswith("no outcome by its settlement deadline")
    lines = len(store.history("QUIET"))
    again = store.record([traded("RISKY", 0.02, minutes=int(before.total_seconds() // 60) + 3)])
    assert again.overdue == 0 and len(store.history("QUIET")) == lines, "overdue once"
    with pytest.raises(InvalidTransition, match="cannot go from OVERDUE to RESOLVED"):
        store.transition("RISKY", Status.RESOLVED, actor="ana")
    store.record([], updates=[TradeUpdate("RISKY", T0 + before, outcome="FAILED")])
    assert [e.trade_id for e in store.queue()] == ["QUIET"]
    assert store.get("RISKY").status == "FAILED"
    store.close()


def test_hidden_risk_names_an_at_risk_trade_the_queue_does_not_show(
    store: ExceptionStore,
) -> None:
    import sqlalchemy as sa

    store.record([traded("T1", 0.40), traded("T2", 0.40)])
    assert store.hidden_risk() == []
    with store.writer.begin() as connection:  # what the old workflow left behind
        connection.execute(
            sa.text(
                "UPDATE exceptions SET status = 'RESOLVED', resolved_by = 'failcast' "
                "WHERE trade_id = 'T2'"
            )
        )
    assert store.hidden_risk() == ["T2"]
