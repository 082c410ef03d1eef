"""authors: sanctions, author events, erasure, retention, statements of reasons, appeals, reports

Revision ID: 0009
Revises: 0006
Create Date: 2026-12-04 18:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "author_sanctions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("author_id", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=320), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("lifted_by", sa.String(length=320), nullable=True),
        sa.Column("lift_reason", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_author_sanctions_author", "author_sanctions", ["source_id", "author_id"])
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "sanctioned_comments",
                sa.String(length=16),
                nullable=False,
                server_default="reject",
            )
        )
        batch_op.add_column(sa.Column("retention_days", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("statement_templates", sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column("appeal_url", sa.String(length=2000), nullable=True))
        batch_op.add_column(
            sa.Column("report_threshold", sa.Float(), nullable=False, server_default="3")
        )
        batch_op.add_column(
            sa.Column("premoderate_below", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("statement", sa.JSON(), nullable=True))
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
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
    # Author events (author.suspended ...) belong to no comment and no decision.
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("comment_id", existing_type=sa.String(length=40), nullable=True)
        batch_op.alter_column("decision_id", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute(
        "DELETE FROM delivery_attempts WHERE event_id IN "
        "(SELECT id FROM events WHERE comment_id IS NULL)"
    )
    op.execute("DELETE FROM events WHERE comment_id IS NULL OR decision_id IS NULL")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.alter_column("decision_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("comment_id", existing_type=sa.String(length=40), nullable=False)
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.drop_column("erased_at")
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_column("statement")
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("premoderate_below")
        batch_op.drop_column("report_threshold")
        batch_op.drop_column("appeal_url")
        batch_op.drop_column("statement_templates")
        batch_op.drop_column("retention_days")
        batch_op.drop_column("sanctioned_comments")
    op.drop_index("ix_reports_reporter", table_name="reports")
    op.drop_index("ix_reports_comment_id", table_name="reports")
    op.drop_table("reports")
    op.drop_index("ix_appeals_state_received", table_name="appeals")
    op.drop_index("ix_appeals_comment_id", table_name="appeals")
    op.drop_table("appeals")
    op.drop_index("ix_author_sanctions_author", table_name="author_sanctions")
    op.drop_table("author_sanctions")
