"""The exception store's schema is Alembic's: an empty database (SQLite or the real
PostgreSQL server) is migrated to a schema equal to the models', a store made before it had
migrations is adopted with its rows, and concurrent openings migrate once."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from pipelines.cli import app
from serving.workflow.store import ExceptionStore
from serving.workflow.store.engine import (
    FIRST_REVISION,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from serving.workflow.store.tables import Base, aware
from tests.conftest import REPO
from tests.records import score


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'exceptions.db'}"
    return str(request.getfixturevalue("postgres_url"))


def _differences(engine: sa.Engine) -> list[object]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def test_an_empty_store_is_migrated_to_the_models_schema(url: str) -> None:
    engine = make_engine(url, writer=True)
    try:
        assert current_revision(engine) is None
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        assert _differences(engine) == []
        upgrade(engine)  # again: nothing to do
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_a_store_made_before_migrations_is_adopted_with_its_rows(url: str) -> None:
    engine = make_engine(url, writer=True)
    try:
        # a store made before migrations: revision 0001's tables, no alembic_version
        upgrade(engine, FIRST_REVISION)
        with engine.begin() as connection:
            connection.execute(sa.text("DROP TABLE alembic_version"))
            connection.execute(
                sa.text(
                    "INSERT INTO exception_history (trade_id, at, status, actor, note) "
                    "VALUES ('T1', '2024-06-03 14:00:00', 'OPEN', 'failcast', 'kept')"
                )
            )
        store = ExceptionStore(url)
        try:
            assert current_revision(engine) == head_revision()
            assert [h.note for h in store.history("T1")] == ["kept"]
            store.record([score("T2", 0.4, 10.0)])
            assert [e.trade_id for e in store.queue()] == ["T2"]
        finally:
            store.close()
    finally:
        engine.dispose()
    assert head_revision() >= FIRST_REVISION


def test_trades_stored_before_their_due_instant_was_kept_are_given_it(url: str) -> None:
    """0008 works out when each stored trade's outcome is due: the end of its ISD in its
    market (New York: 04:00 UTC the day after in summer; Tokyo: 15:00 UTC the same day)."""
    engine = make_engine(url, writer=True)
    try:
        upgrade(engine, "0007")
        with engine.begin() as connection:
            for trade_id, market in (("T-US", "US"), ("T-JP", "JP")):
                connection.execute(
                    sa.text(
                        "INSERT INTO trades (trade_id, counterparty_id, account_id, "
                        "instrument_id, settlement_market, settlement_date, payload, lifecycle, "
                        "updated_at) VALUES (:t, 'C1', 'A1', 'I1', :m, '2024-06-04', '{}', '{}', "
                        "'2024-06-03 14:00:00')"
                    ),
                    {"t": trade_id, "m": market},
                )
        upgrade(engine)
        with engine.connect() as connection:
            query = sa.text("SELECT trade_id, outcome_due FROM trades").columns(
                sa.column("trade_id", sa.String), sa.column("outcome_due", sa.DateTime(True))
            )
            due: dict[str, dt.datetime] = dict(connection.execute(query).tuples().all())
        assert {t: aware(at) for t, at in due.items()} == {
            "T-US": dt.datetime(2024, 6, 5, 4, 0, tzinfo=dt.UTC),
            "T-JP": dt.datetime(2024, 6, 4, 15, 0, tzinfo=dt.UTC),
        }
        assert _differences(engine) == []
    finally:
        engine.dispose()


_OPEN = """
import sys
from serving.workflow.store import ExceptionStore
ExceptionStore(sys.argv[1]).close()
"""


def test_stores_opened_at_once_migrate_once(url: str) -> None:
    """Two workers starting together: both open the store, neither fails on the other's
    tables."""
    children = [
        subprocess.Popen([sys.executable, "-c", _OPEN, url], cwd=REPO, stderr=subprocess.PIPE)
        for _ in range(3)
    ]
    errors = [child.communicate(timeout=120)[1].decode() for child in children]
    assert [child.returncode for child in children] == [0, 0, 0], errors
    engine = make_engine(url)
    try:
        assert current_revision(engine) == head_revision()
    finally:
        engine.dispose()


def test_db_commands_migrate_and_report_the_revision(tmp_path: Path) -> None:
    runner = CliRunner()
    env = {"FAILCAST_EXCEPTION_STORE_URL": f"sqlite:///{tmp_path / 'cli.db'}"}
    before = runner.invoke(app, ["db", "current"], env=env)
    assert before.exit_code == 0, before.output
    assert "revision (none)" in before.output and "needs `failcast db upgrade`" in before.output
    done = runner.invoke(app, ["db", "upgrade"], env=env)
    assert done.exit_code == 0, done.output
    assert f"from an empty store to revision {head_revision()}" in done.output
    after = runner.invoke(app, ["db", "current"], env=env)
    assert f"at revision {head_revision()}" in after.output and "up to date" in after.output


def test_a_store_at_the_previous_revision_is_upgraded_with_its_rows(url: str) -> None:
    """A store at 0001 with a person's resolution: after 0002, the resolution names that
    person and the tier it had, so a riskier score reopens it."""
    engine = make_engine(url, writer=True)
    try:
        upgrade(engine, FIRST_REVISION)
        with engine.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO exceptions (trade_id, status, team, action, opened_at, "
                    "updated_at, settlement_date, counterparty_id, instrument_id, desk_id, "
                    "settlement_market, notional, scored_at, model_version, stage, "
                    "fail_probability, risk_tier, predicted_cause, expected_cost, currency, "
                    "expected_cost_usd, reasons) VALUES ('T1', 'RESOLVED', 'Settlements', 'x', "
                    "'2024-06-03 14:00:00', '2024-06-03 14:00:00', '2024-06-04', 'C1', 'I1', "
                    "'D1', 'US', 1e6, '2024-06-03 14:00:00', '3', 'EXECUTION', 0.12, "
                    "'MEDIUM', 'LATE_MATCHING', 10.0, 'USD', 10.0, '[]')"
                )
            )
            connection.execute(
                sa.text(
                    "INSERT INTO exception_history (trade_id, at, status, actor, note) VALUES "
                    "('T1', '2024-06-03 14:05:00', 'RESOLVED', 'ops.alice', 'called them')"
                )
            )
        upgrade(engine)
        assert current_revision(engine) == head_revision()
        with engine.connect() as connection:
            row = connection.execute(
                sa.text("SELECT resolved_by, resolved_tier FROM exceptions WHERE trade_id='T1'")
            ).one()
        assert tuple(row) == ("ops.alice", "MEDIUM")
    finally:
        engine.dispose()
