"""Revision 0002's FTS5 tables and triggers (frozen).

A later revision that rebuilds ``memori_turns`` or ``memori_memories`` in batch
mode drops these triggers and may renumber rowids: it re-runs :func:`create`.
"""

from __future__ import annotations

from alembic import op

TABLES = ("memori_turns", "memori_memories")
TOKENIZER = "unicode61 remove_diacritics 0 tokenchars '_'"
"""Words are Unicode ``\\w+`` runs, case-folded, accents kept: the contract's "words"."""


def drop(table: str) -> None:
    fts = f"{table}_fts"
    for suffix in ("ai", "ad", "au"):
        op.execute(f"DROP TRIGGER IF EXISTS {fts}_{suffix}")
    op.execute(f"DROP TABLE IF EXISTS {fts}")


def create(table: str) -> None:
    """(Re)create the FTS5 table and triggers of ``table`` and fill it from the base rows."""
    fts = f"{table}_fts"
    key = "'e' || hex({}.entity_id)"
    drop(table)
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
