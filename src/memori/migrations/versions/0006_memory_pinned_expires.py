"""Memories gain ``pinned`` (injected first on every call) and ``expires_at`` (epoch seconds).

Both dialects: two columns added to ``memori_memories``; existing memories are
unpinned and never expire. Plain ``ADD COLUMN`` (no table rebuild), so SQLite's
FTS and entity-version triggers stay as they are. Downgrade drops the columns
(plain ``DROP COLUMN`` too).

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

MEMORIES = "memori_memories"


def _schema() -> str | None:
    schema: str | None = op.get_context().config.attributes.get("schema")
    return schema


def upgrade() -> None:
    schema = _schema()
    op.add_column(MEMORIES, sa.Column("pinned", sa.Boolean, nullable=False,
                                      server_default=sa.false()), schema=schema)
    op.add_column(MEMORIES, sa.Column("expires_at", sa.Float, nullable=True), schema=schema)


def downgrade() -> None:
    schema = _schema()  # plain DROP COLUMN (SQLite 3.35+): a rebuild would drop the triggers
    op.drop_column(MEMORIES, "expires_at", schema=schema)
    op.drop_column(MEMORIES, "pinned", schema=schema)
