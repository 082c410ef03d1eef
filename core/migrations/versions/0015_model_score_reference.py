"""model_versions.score_reference: the held-out score bins drift is measured against

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-07 23:55:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | Sequence[str] | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("score_reference", sa.JSON(), nullable=True))
    with op.batch_alter_table("score_references", schema=None) as batch_op:
        batch_op.add_column(sa.Column("model_version", sa.String(length=100), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("score_references", schema=None) as batch_op:
        batch_op.drop_column("model_version")
    with op.batch_alter_table("model_versions", schema=None) as batch_op:
        batch_op.drop_column("score_reference")
