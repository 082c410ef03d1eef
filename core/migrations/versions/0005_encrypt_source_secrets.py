"""sources: signing secrets encrypted at rest (core.secrets)

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03 14:05:00

"""

from collections.abc import Callable, Sequence

import sqlalchemy as sa
from alembic import context, op

from core.secrets import ENCRYPTED_PREFIX, decrypt_secret, encrypt_secret
from core.settings import Settings, get_settings

revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

sources = sa.table(
    "sources",
    sa.column("id", sa.String),
    sa.column("secret", sa.String),
    sa.column("previous_secret", sa.String),
)


def _settings() -> Settings:
    settings = context.config.attributes.get("settings")
    return settings if isinstance(settings, Settings) else get_settings()


def _rewrite(convert: Callable[[str], str]) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(sources.c.id, sources.c.secret, sources.c.previous_secret))
    for source_id, secret, previous in list(rows):
        connection.execute(
            sources.update()
            .where(sources.c.id == source_id)
            .values(
                secret=convert(secret),
                previous_secret=convert(previous) if previous is not None else None,
            )
        )


def upgrade() -> None:
    settings = _settings()

    def encrypt(value: str) -> str:
        return value if value.startswith(ENCRYPTED_PREFIX) else encrypt_secret(value, settings)

    _rewrite(encrypt)


def downgrade() -> None:
    settings = _settings()

    def decrypt(value: str) -> str:
        return decrypt_secret(value, settings) if value.startswith(ENCRYPTED_PREFIX) else value

    _rewrite(decrypt)
