"""The exception store as it was before migrations: scores, exceptions, trades, history.

Revision ID: 0001
Revises: (none)
Create Date: 2026-12-01 22:58:41.160191
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "exception_history",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        op.f("ix_exception_history_trade_id"), "exception_history", ["trade_id"], unique=False
    )
    op.create_table(
        "exceptions",
        sa.Column("trade_id", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("team", sa.String(length=64), nullable=False),
        sa.Column("action", sa.Text(), nullable=False),
        sa.Column("action_taken", sa.Text(), nullable=True),
        sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("settlement_date", sa.Date(), nullable=False),
        sa.Column("counterparty_id", sa.String(length=64), nullable=False),
        sa.Column("instrument_id", sa.String(length=64), nullable=False),
        sa.Column("desk_id", sa.String(length=64), nullable=False),
        sa.Column("settlement_market", sa.String(length=8), nullable=False),
        sa.Column("notional", sa.Double(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("fail_probability", sa.Double(), nullable=False),
        sa.Column("risk_tier", sa.String(length=8), nullable=False),
        sa.Column("predicted_cause", sa.String(length=32), nullable=False),
        sa.Column("expected_cost", sa.Double(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_cost_usd", sa.Double(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("trade_id"),
    )
    op.create_index(
        "ix_exceptions_expected_cost_usd", "exceptions", ["expected_cost_usd"], unique=False
    )
    op.create_index(
        op.f("ix_exceptions_settlement_date"), "exceptions", ["settlement_date"], unique=False
    )
    op.create_index(op.f("ix_exceptions_status"), "exceptions", ["status"], unique=False)
    op.create_index(op.f("ix_exceptions_team"), "exceptions", ["team"], unique=False)
    op.create_table(
        "scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("trade_id", sa.String(length=64), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_version", sa.String(length=32), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("fail_probability", sa.Double(), nullable=False),
        sa.Column("risk_tier", sa.String(length=8), nullable=False),
        sa.Column("predicted_cause", sa.String(length=32), nullable=False),
        sa.Column("expected_cost", sa.Double(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("expected_cost_usd", sa.Double(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("trade_id", "scored_at", "model_version"),
    )
    op.create_index(op.f("ix_scores_trade_id"), "scores", ["trade_id"], unique=False)
    op.create_table(
        "trades",
        sa.Column("trade_id", sa.String(length=64), nullable=False),
        sa.Column("counterparty_id", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.String(length=64), nullable=False),
        sa.Column("instrument_id", sa.String(length=64), nullable=False),
        sa.Column("settlement_market", sa.String(length=8), nullable=False),
        sa.Column("settlement_date", sa.Date(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("lifecycle", sa.JSON(), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.Column("fail_reason", sa.String(length=32), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("trade_id"),
    )
    op.create_index(op.f("ix_trades_counterparty_id"), "trades", ["counterparty_id"], unique=False)
    op.create_index(
        "ix_trades_open_account", "trades", ["outcome", "account_id", "instrument_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index("ix_trades_open_account", table_name="trades")
    op.drop_index(op.f("ix_trades_counterparty_id"), table_name="trades")
    op.drop_table("trades")
    op.drop_index(op.f("ix_scores_trade_id"), table_name="scores")
    op.drop_table("scores")
    op.drop_index(op.f("ix_exceptions_team"), table_name="exceptions")
    op.drop_index(op.f("ix_exceptions_status"), table_name="exceptions")
    op.drop_index(op.f("ix_exceptions_settlement_date"), table_name="exceptions")
    op.drop_index("ix_exceptions_expected_cost_usd", table_name="exceptions")
    op.drop_table("exceptions")
    op.drop_index(op.f("ix_exception_history_trade_id"), table_name="exception_history")
    op.drop_table("exception_history")
