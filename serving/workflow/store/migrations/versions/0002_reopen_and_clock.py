"""Exceptions reopen: who resolved each one and at what tier; the store's own clock.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 23:52:33
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "store_clock",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # the store's clock starts at its latest score
    op.execute(
        "INSERT INTO store_clock (id, at) SELECT 1, max(scored_at) FROM scores "
        "HAVING max(scored_at) IS NOT NULL"
    )
    op.add_column("exceptions", sa.Column("resolved_by", sa.String(length=64), nullable=True))
    op.add_column("exceptions", sa.Column("resolved_tier", sa.String(length=8), nullable=True))
    # A resolved exception of an earlier store: resolved by the actor of its last RESOLVED
    # history line, at the tier of its score then (such exceptions kept their last score).
    op.execute(
        """
        UPDATE exceptions SET
            resolved_by = (
                SELECT h.actor FROM exception_history h
                WHERE h.trade_id = exceptions.trade_id AND h.status = 'RESOLVED'
                ORDER BY h.id DESC LIMIT 1
            ),
            resolved_tier = risk_tier
        WHERE status = 'RESOLVED'
        """
    )


def downgrade() -> None:
    op.drop_column("exceptions", "resolved_tier")
    op.drop_column("exceptions", "resolved_by")
    op.drop_table("store_clock")
