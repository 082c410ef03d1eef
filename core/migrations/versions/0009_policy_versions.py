"""policy versions: every policy change kept, sources.policy_version; drift score references

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04 18:30:00

"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# The migration's own view of the tables, so later changes to core.tables cannot change it.
sources = sa.table(
    "sources",
    sa.column("id", sa.String),
    sa.column("thresholds", sa.JSON),
    sa.column("blocklist", sa.JSON),
    sa.column("max_links", sa.Integer),
)


def upgrade() -> None:
    policy_versions = op.create_table(
        "policy_versions",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("policy", sa.JSON(), nullable=False),
        sa.Column("changed_by", sa.String(length=320), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("restored_from", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "version", name="uq_policy_versions_source_version"),
    )
    op.create_table(
        "score_references",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("source_id", sa.String(length=40), nullable=False),
        sa.Column("label", sa.String(length=40), nullable=False),
        sa.Column("edges", sa.JSON(), nullable=False),
        sa.Column("fractions", sa.JSON(), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["source_id"], ["sources.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("source_id", "label", name="uq_score_references_label"),
    )
    # The what-if and drift read one source's comments of a period (id: SQLite joins from it).
    op.create_index("ix_comments_source_received", "comments", ["source_id", "received_at", "id"])
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("policy_version", sa.Integer(), nullable=False, server_default="1")
        )
    # Every existing source starts its history with the policy it has now, as version 1.
    connection = op.get_bind()
    now = datetime.now(UTC)
    rows = connection.execute(
        sa.select(sources.c.id, sources.c.thresholds, sources.c.blocklist, sources.c.max_links)
    )
    versions = [
        {
            "source_id": source_id,
            "version": 1,
            "policy": {
                "thresholds": thresholds or {},
                "blocklist": blocklist or [],
                "max_links": max_links,
            },
            "changed_by": "migration 0009",
            "reason": "the policy in force when versioning began",
            "restored_from": None,
            "created_at": now,
        }
        for source_id, thresholds, blocklist, max_links in list(rows)
    ]
    if versions:
        op.bulk_insert(policy_versions, versions)


def downgrade() -> None:
    with op.batch_alter_table("sources", schema=None) as batch_op:
        batch_op.drop_column("policy_version")
    op.drop_index("ix_comments_source_received", table_name="comments")
    op.drop_table("score_references")
    op.drop_table("policy_versions")
