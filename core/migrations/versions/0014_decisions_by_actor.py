"""decisions: index by comment and actor (the what-if finds the moderated comments by it)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07 23:40:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0014"
down_revision: str | Sequence[str] | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_decisions_comment_actor", "decisions", ["comment_id", "actor"])


def downgrade() -> None:
    op.drop_index("ix_decisions_comment_actor", table_name="decisions")
