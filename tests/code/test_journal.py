"""The score journal and its drain: what is appended survives a crash and is stored exactly
once; a torn line is skipped; a poison record becomes a dead letter while the rest is stored;
a store that is down keeps everything in the journal, up to its bound; another live process's
journal is read, a dead one's adopted."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import StoreUnavailable
from serving.workflow.drain import Drain
from serving.workflow.journal import Journal, decode, encode
from serving.workflow.store import ExceptionStore
from tests.conftest import REPO
from tests.records import traded


@pytest.fixture()
def store(tmp_path: Path):
    opened = ExceptionStore(f"sqlite:///{tmp_path / 'exceptions.db'}")
    yield opened
    opened.close()


def test_appended_scores_are_stored_once_and_the_segment_retired(
    tmp_path: Path, store: ExceptionStore
) -> None:
    journal = Journal(tmp_path / "journal", max_pending=100)
    drain = Drain(journal, store)
    journal.append([traded(f"T{i}", 0.3) for i in range(5)])
    assert journal.pending() == 5
    assert drain.step() == 5
    assert journal.pending() == 0 and drain.step() == 0
    assert store.counts()["scores"] == 5
    drain.close()
    assert list((tmp_path / "journal").glob("*.jsonl")) == [], "a stored segment is deleted"


_CRASH = """
import os, sys
sys.path.insert(0, sys.argv[2])
from pathlib import Path
from serving.workflow.journal import Journal
from tests.records import traded
journal = Journal(Path(sys.argv[1]), max_pending=1000)
journal.append([traded(f"T{i}", 0.3) for i in range(40)])
os._exit(9)  # killed right after the fsync: nothing stored
"""


def test_a_dead_process_journal_is_adopted_and_stored_exactly_once(
    tmp_path: Path, store: ExceptionStore
) -> None:
    done = subprocess.run([sys.executable, "-c", _CRASH, str(tmp_path / "journal"), str(REPO)])
    assert done.returncode == 9
    (segment,) = (tmp_path / "journal").glob("*.jsonl")
    with segment.open("ab") as handle:  # the line a crash tore while writing
        handle.write(b'0badc0de {"trade_id": "TORN"')
    journal = Journal(tmp_path / "journal", max_pending=1000)
    assert journal.pending() == 40
    drain = Drain(journal, store)
    drain.catch_up()
    assert store.counts()["scores"] == 40 and journal.pending() == 0
    drain.close()
    again = Journal(tmp_path / "journal", max_pending=1000)  # nothing left to adopt
    assert again.pending() == 0
    Drain(again, store).catch_up()
    assert store.counts()["scores"] == 40, "nothing stored twice"
    again.close()


def test_a_poison_record_becomes_a_dead_letter_and_the_rest_is_stored(
    tmp_path: Path, store: ExceptionStore
) -> None:
    journal = Journal(tmp_path / "journal", max_pending=100)
    journal.append([traded("GOOD1", 0.3), traded("BAD", 0.3), traded("GOOD2", 0.3)])
    segment = next((tmp_path / "journal").glob("*.jsonl"))
    # a record written by an older version, which this one no longer accepts
    lines = segment.read_bytes().splitlines(keepends=True)
    import json
    import zlib

    body = json.loads(lines[1].split(b" ", 1)[1])
    body["trade"]["notional"] = 1.0  # quantity × price is 10,000
    raw = json.dumps(body, separators=(",", ":")).encode()
    lines[1] = b"%08x %s\n" % (zlib.crc32(raw), raw)
    segment.write_bytes(b"".join(lines))
    drain = Drain(journal, store)
    assert drain.step() == 3
    assert {row.trade_id for row in store.trajectory("GOOD1") + store.trajectory("GOOD2")} == {
        "GOOD1",
        "GOOD2",
    }
    assert store.trajectory("BAD") == []
    total, (letter,) = store.dead_letters()
    assert total == 1 and letter.key == "BAD" and "notional" in letter.error
    drain.step()
    assert store.dead_letters()[0] == 1, "a dead letter is kept once"
    drain.close()


def test_a_store_that_does_not_answer_keeps_the_journal_up_to_its_bound(tmp_path: Path) -> None:
    down = ExceptionStore("postgresql+psycopg://failcast:secret@127.0.0.1:1/nowhere", lazy=True)
    journal = Journal(tmp_path / "journal", max_pending=3)
    drain = Drain(journal, down)
    journal.append([traded("T1", 0.3), traded("T2", 0.3)])
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1/nowhere does not answer") as caught:
        drain.step()
    assert "secret" not in str(caught.value), "the password is masked"
    assert journal.pending() == 2 and not journal.full()
    journal.append([traded("T3", 0.3)])
    assert journal.full()
    assert drain.status().last_error and drain.status().pending == 3
    journal.close()
    assert len(list((tmp_path / "journal").glob("*.jsonl"))) == 1, "kept for the next start"


def test_a_live_process_journal_is_read_not_adopted(tmp_path: Path, store: ExceptionStore) -> None:
    first = Journal(tmp_path / "journal", max_pending=100)
    second = Journal(tmp_path / "journal", max_pending=100)
    first.append([traded("T1", 0.3)])
    assert second.pending() == 0, "a live process's segment is not adopted"
    Drain(second, store).catch_up()
    assert [s.trade_id for s in store.trajectory("T1")] == ["T1"]
    Drain(first, store).step()
    assert len(store.trajectory("T1")) == 1, "stored by both, kept once"
    first.close()
    second.close()
    assert os.listdir(tmp_path / "journal") == []


def test_a_line_decodes_to_the_score_it_was_and_refuses_a_number_that_is_not_finite(
    tmp_path: Path,
) -> None:
    record = traded("T1", 0.3)
    assert decode(json.loads(encode(record))) == record
    journal = Journal(tmp_path / "journal", max_pending=10)
    for change in ({"expected_cost": math.nan}, {"reasons": [{"code": "X", "weight": math.inf}]}):
        with pytest.raises(ValueError, match="T1: a score with a number that is not finite"):
            journal.append([traded("T0", 0.3), dataclasses.replace(record, **change)])
    assert journal.pending() == 0, "a batch with a bad record is refused whole"
