"""callbacks: per-source circuit breaker, retry budget restarted by redelivery

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-25 00:05:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("consecutive_failures", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(
            sa.Column("circuit_open_until", sa.DateTime(timezone=True), nullable=True)
        )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "attempts_before_redelivery", sa.Integer(), nullable=False, server_default="0"
            )
        )


def downgrade() -> None:
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_column("attempts_before_redelivery")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("circuit_open_until")
        batch_op.drop_column("consecutive_failures")
