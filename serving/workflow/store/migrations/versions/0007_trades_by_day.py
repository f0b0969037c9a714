"""Trades found by when they settle and when they last changed: what the service's intraday
state reads every second (the trades of the last days, and those changed since its last read).

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-06 04:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_trades_settlement_date", "trades", ["settlement_date"])
    op.create_index("ix_trades_updated_at", "trades", ["updated_at"])


def downgrade() -> None:
    op.drop_index("ix_trades_updated_at", table_name="trades")
    op.drop_index("ix_trades_settlement_date", table_name="trades")
