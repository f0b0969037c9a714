"""When each trade's outcome is due (the end of its ISD in its settlement market), indexed
with the outcome: every write looks for the open trades past their deadline, and finds them
by index instead of reading every open trade settling by today.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-06 20:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from serving.workflow.store.exceptions import outcome_due

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

_BATCH = 10_000


def upgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.add_column(sa.Column("outcome_due", sa.DateTime(timezone=True), nullable=True))
    trades = sa.table(
        "trades",
        sa.column("trade_id", sa.String),
        sa.column("settlement_date", sa.Date),
        sa.column("settlement_market", sa.String),
        sa.column("outcome_due", sa.DateTime(timezone=True)),
    )
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(trades.c.trade_id, trades.c.settlement_date, trades.c.settlement_market)
    ).all()
    for start in range(0, len(rows), _BATCH):
        batch_rows = rows[start : start + _BATCH]
        due = outcome_due([r[1] for r in batch_rows], [r[2] for r in batch_rows])
        connection.execute(
            trades.update()
            .where(trades.c.trade_id == sa.bindparam("id"))
            .values(outcome_due=sa.bindparam("due")),
            [{"id": r[0], "due": at} for r, at in zip(batch_rows, due, strict=True)],
        )
    with op.batch_alter_table("trades") as batch:
        batch.alter_column("outcome_due", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch.create_index("ix_trades_open_due", ["outcome", "outcome_due"])


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.drop_index("ix_trades_open_due")
        batch.drop_column("outcome_due")
