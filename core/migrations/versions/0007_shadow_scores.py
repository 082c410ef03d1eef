"""shadow scores: a shadow model's scores and would-be decisions, apart from the live ones

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04 18:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "shadow_scores",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("comment_id", sa.String(length=40), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=100), nullable=False),
        sa.Column("scores", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.Column("live_decision_id", sa.Integer(), nullable=False),
        sa.Column("live_status", sa.String(length=16), nullable=False),
        sa.Column("live_model_version", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["comment_id"], ["comments.id"]),
        sa.ForeignKeyConstraint(["live_decision_id"], ["decisions.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("comment_id", "revision", "model_version", name="uq_shadow_scores_one"),
    )
    op.create_index(
        "ix_shadow_scores_version_created", "shadow_scores", ["model_version", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_shadow_scores_version_created", table_name="shadow_scores")
    op.drop_table("shadow_scores")
