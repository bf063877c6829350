"""SQLite full-text search: FTS5 tables over turns and memories, kept in sync by triggers.

Each FTS5 row shares the rowid of its base row and holds the text plus an
``entity_key`` token ('e' || hex(entity_id)), so a search can ask the index
for one entity's rows only; the base-table join still compares entity_id whole.
No-op on every other dialect.

A later revision that rebuilds ``memori_turns`` or ``memori_memories`` (batch
mode copies the table) drops these triggers and may renumber rowids: it must
re-run ``_create`` for the table afterwards.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TABLES = ("memori_turns", "memori_memories")
TOKENIZER = "unicode61 remove_diacritics 0 tokenchars '_'"
"""Words are Unicode ``\\w+`` runs, case-folded, accents kept: the contract's "words"."""


def _is_sqlite() -> bool:
    return bool(op.get_bind().dialect.name == "sqlite")


def _drop(table: str) -> None:
    fts = f"{table}_fts"
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
    op.execute(f"DROP TABLE IF EXISTS {fts}")


def _create(table: str) -> None:
    """(Re)create the FTS5 table and triggers of ``table`` and fill it from the base rows."""
    fts = f"{table}_fts"
    key = "'e' || hex({}.entity_id)"
    _drop(table)
    op.execute(
        f"CREATE VIRTUAL TABLE {fts} USING fts5(content, entity_key, tokenize=\"{TOKENIZER}\")"
    )
    op.execute(
        f"INSERT INTO {fts}(rowid, content, entity_key) "
        f"SELECT rowid, content, {key.format(table)} FROM {table}"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_ai AFTER INSERT ON {table} BEGIN "
        f"INSERT INTO {fts}(rowid, content, entity_key) "
        f"VALUES (new.rowid, new.content, {key.format('new')}); END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_ad AFTER DELETE ON {table} BEGIN "
        f"DELETE FROM {fts} WHERE rowid = old.rowid; END"
    )
    op.execute(
        f"CREATE TRIGGER {fts}_au AFTER UPDATE OF content, entity_id ON {table} BEGIN "
        f"UPDATE {fts} SET content = new.content, entity_key = {key.format('new')} "
        f"WHERE rowid = old.rowid; END"
    )


def upgrade() -> None:
    if not _is_sqlite():
        return
    for table in TABLES:
        _create(table)


def downgrade() -> None:
    if not _is_sqlite():
        return
    for table in TABLES:
        _drop(table)
