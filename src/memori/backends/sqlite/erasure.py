"""Forgotten means gone: what ``forget`` does on SQLite beyond its DELETE statements.

Deleted rows would otherwise live on in four places:

- freed space of the file's pages: every connection runs with ``PRAGMA
  secure_delete = ON`` (see ``connection``), which zeroes deleted cells and freed
  pages;
- the unused middle of live pages: when SQLite rebalances a b-tree it rebuilds a
  page without clearing the gap between its cell pointers and its cells, so a copy
  of a row that moved to another page, long before it was deleted, may linger
  there (secure_delete does not reach it). Only ``VACUUM`` rewrites every page;
- the FTS5 index: a delete adds a delete marker holding the row's words, and the
  old segments keep them until merged away (``purge_text_index``);
- the WAL: old and new page images until a checkpoint (``truncate_wal``).

FTS5's own ``secure-delete`` option (SQLite 3.44+) is deliberately not used: once
it has deleted a row, the table's format version becomes 5 for good and SQLite
before 3.44 refuses to read it, while memori opens the same file with the
standard ``sqlite3`` module (often older) whenever sqlite-vec is not in use.
"""

from __future__ import annotations

import logging

from sqlalchemy.engine import Connection, Engine

from memori.backends.sql.tables import MEMORIES, TURNS
from memori.backends.sqlite.fts import fts_table

FTS_TABLES = (fts_table(TURNS), fts_table(MEMORIES))
log = logging.getLogger(__name__)


def purge_text_index(conn: Connection) -> None:
    """Merge each FTS5 index into one segment: deleted rows' words and the delete
    markers naming them are dropped, the old segments' pages freed (and zeroed)."""
    for fts in FTS_TABLES:
        conn.exec_driver_sql(f"INSERT INTO {fts}({fts}) VALUES ('optimize')")


def vacuum(engine: Engine) -> None:
    """Rebuild the file from its live rows (needs free space about its size, and runs
    outside any transaction); the WAL then holds the new pages until ``truncate_wal``."""
    with engine.connect() as conn:
        conn.exec_driver_sql("VACUUM")
        conn.commit()


def truncate_wal(engine: Engine) -> bool:
    """Copy the WAL into the main file and truncate it to zero bytes.

    False when a reader (another process, usually) kept it from finishing after
    the busy timeout: the WAL then still holds old page images until the next
    checkpoint (the next ``forget``, ``close``, or SQLite's automatic one).
    """
    with engine.connect() as conn:
        row = conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)").first()
        conn.commit()
    busy = bool(row is not None and row[0])
    if busy:
        log.warning("memori: the SQLite WAL could not be truncated yet (a reader holds it)")
    return not busy
