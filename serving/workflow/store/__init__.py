"""The exception store: every score, every scored trade with its lifecycle so far (what
re-scoring needs), and one exception per at-risk trade with its status, owning team, action
taken and history (SQLAlchemy; a SQLite file under the project home by default, PostgreSQL by
URL; the schema migrated by Alembic).

    tables    the ORM tables
    status    the workflow's statuses, who may follow whom, when a resolved one reopens
    exceptions  how exceptions follow the risk: open, update, resolve, reopen, OVERDUE
    records   what the store is given (scores, trade updates) and what a write did
    engine    the database set up for concurrent writers, and its migrations
    store     ExceptionStore: transactional, idempotent writes
    queries   the reads: queue, trajectory, history, book

An exception leaves the queue when its trade settles or fails, when someone resolves it, or
when a later score finds the trade no longer at risk (resolved by failcast, with the score).
"""

from core.access import SYSTEM_ACTOR
from serving.workflow.store.records import (
    OutboxEntry,
    Recorded,
    ScoreRecord,
    TradeUpdate,
    as_dict,
)
from serving.workflow.store.status import Status
from serving.workflow.store.store import ExceptionStore
from serving.workflow.store.tables import EXCEPTION_FIELDS, TradeRow

__all__ = [
    "EXCEPTION_FIELDS",
    "SYSTEM_ACTOR",
    "ExceptionStore",
    "OutboxEntry",
    "Recorded",
    "ScoreRecord",
    "Status",
    "TradeRow",
    "TradeUpdate",
    "as_dict",
]
