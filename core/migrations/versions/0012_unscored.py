"""unscored: fail-open or fail-closed per source when the scorer is down

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04 19:05:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "unscored_mode", sa.String(length=16), nullable=False, server_default="fail-closed"
            )
        )
        batch_op.add_column(
            sa.Column("unscored_wait_seconds", sa.Integer(), nullable=False, server_default="300")
        )
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("unscored", sa.String(length=16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("unscored")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("unscored_wait_seconds")
        batch_op.drop_column("unscored_mode")
