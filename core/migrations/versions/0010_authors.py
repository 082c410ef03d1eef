"""authors: sanctions, author events, erasure, retention, statements of reasons

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04 18:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
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
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("statement", sa.JSON(), nullable=True))
    with op.batch_alter_table("comments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("erased_at", sa.DateTime(timezone=True), nullable=True))
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
        batch_op.drop_column("appeal_url")
        batch_op.drop_column("statement_templates")
        batch_op.drop_column("retention_days")
        batch_op.drop_column("sanctioned_comments")
    op.drop_index("ix_author_sanctions_author", table_name="author_sanctions")
    op.drop_table("author_sanctions")
