"""A score's expected cost by part: the market's penalty, funding and buy-in exposure.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 06:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

_PARTS = ("expected_penalty", "expected_funding", "expected_buy_in")


def upgrade() -> None:
    for table in ("scores", "exceptions"):
        with op.batch_alter_table(table) as batch:
            for name in _PARTS:
                batch.add_column(
                    sa.Column(name, sa.Double(), nullable=False, server_default=sa.text("0"))
                )


def downgrade() -> None:
    for table in ("scores", "exceptions"):
        with op.batch_alter_table(table) as batch:
            for name in reversed(_PARTS):
                batch.drop_column(name)
