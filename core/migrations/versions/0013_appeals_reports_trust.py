"""authors: appeals, reader reports, report threshold and pre-moderation per source

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 19:45:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | Sequence[str] | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("report_threshold", sa.Float(), nullable=False, server_default="3")
        )
        batch_op.add_column(
            sa.Column("premoderate_below", sa.Integer(), nullable=False, server_default="0")
        )
    op.create_table(
        "appeals",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("comment_id", sa.String(length=40), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.String(length=320), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.Column("resolution_note", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["comment_id"], ["comments.id"]),
        sa.ForeignKeyConstraint(["decision_id"], ["decisions.id"]),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("decision_id", name="uq_appeals_decision"),
    )
    op.create_index("ix_appeals_comment_id", "appeals", ["comment_id"])
    op.create_index("ix_appeals_state_received", "appeals", ["state", "received_at"])
    op.create_table(
        "reports",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("comment_id", sa.String(length=40), nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("reporter_id", sa.String(length=200), nullable=False),
        sa.Column("reason", sa.String(length=32), nullable=False),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("resolved_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(["comment_id"], ["comments.id"]),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.ForeignKeyConstraint(["resolved_by"], ["users.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("comment_id", "reporter_id", name="uq_reports_reader"),
    )
    op.create_index("ix_reports_comment_id", "reports", ["comment_id"])
    op.create_index("ix_reports_reporter", "reports", ["source_id", "reporter_id"])


def downgrade() -> None:
    op.drop_index("ix_reports_reporter", table_name="reports")
    op.drop_index("ix_reports_comment_id", table_name="reports")
    op.drop_table("reports")
    op.drop_index("ix_appeals_state_received", table_name="appeals")
    op.drop_index("ix_appeals_comment_id", table_name="appeals")
    op.drop_table("appeals")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("premoderate_below")
        batch_op.drop_column("report_threshold")
