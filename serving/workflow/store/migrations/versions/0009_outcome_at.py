"""When each trade's outcome became known (the feed's ``known_ts``, a cancellation's
instant): the receipt features read a buy's outcome only from then on, as training does.
Outcomes stored before it take the instant their row last changed, the closest stamp kept.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-07 10:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.add_column(sa.Column("outcome_at", sa.DateTime(timezone=True), nullable=True))
    trades = sa.table(
        "trades",
        sa.column("outcome", sa.String),
        sa.column("outcome_at", sa.DateTime(timezone=True)),
        sa.column("updated_at", sa.DateTime(timezone=True)),
    )
    op.execute(
        trades.update().where(trades.c.outcome.is_not(None)).values(outcome_at=trades.c.updated_at)
    )


def downgrade() -> None:
    with op.batch_alter_table("trades") as batch:
        batch.drop_column("outcome_at")
