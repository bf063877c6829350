"""SQLite full-text search: FTS5 tables over turns and memories, kept in sync by triggers.

Each FTS5 row shares the rowid of its base row and holds the text plus an
``entity_key`` token ('e' || hex(entity_id)), so a search can ask the index
for one entity's rows only; the base-table join still compares entity_id whole.
No-op on every other dialect. The DDL is in ``memori.migrations.frozen.r0002_sqlite_fts``.

A later revision that rebuilds ``memori_turns`` or ``memori_memories`` (batch
mode copies the table) drops these triggers and may renumber rowids: it must
re-run ``r0002_sqlite_fts.create`` for the table afterwards.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

from memori.migrations.frozen import r0002_sqlite_fts as fts

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _is_sqlite() -> bool:
    return bool(op.get_bind().dialect.name == "sqlite")


def upgrade() -> None:
    if not _is_sqlite():
        return
    for table in fts.TABLES:
        fts.create(table)


def downgrade() -> None:
    if not _is_sqlite():
        return
    for table in fts.TABLES:
        fts.drop(table)
