"""Text search in SQL ranked by the entity's own statistics, not the whole table's.

FTS5's ``bm25()`` counts, on every query, the rows of the whole table that hold each
query word (for its idf): every tenant's rows. With 50,000 entities of 20 memories
each (1,000,000 rows), a search of one entity's 20 memories took 25.7 ms p50 and 91 ms
p95 (``benchmarks/bench_tenants.py``), of which finding its matching rows took about
0.3 ms: the cost of each user's recall grew with every other user's data, and so did
their scores. Here the FTS index only finds the entity's rows holding a query word;
their BM25 is computed as the in-process text index computes it (``text_index``: N, n
and the average length are the entity's own), so an entity's text ranking is the same
whichever of the two paths answers, and no other tenant's rows cost it time or move
its scores.

The entity's row count and total length (the FTS5 size table's, in index tokens)
are kept per entity and kind, keyed by the entity's version (revision 0005's
triggers advance it on every change), so a large entity's sizes are read once per
change, not once per query. Ranking here costs about 5 us a matching row: when more
than :data:`MAX_MATCHED` rows of the entity hold a query word, the caller ranks them
with ``bm25()`` (``search.text_candidates``), whose pass in C is cheaper then.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

import numpy as np
from sqlalchemy import Table, bindparam, case, column, literal_column, select
from sqlalchemy import table as sql_table
from sqlalchemy.engine import Connection

from memori.backends.sqlite.connection import driver_rows
from memori.backends.sqlite.fts import entity_expression, fts_table, match_expression, query_tokens
from memori.backends.sqlite.search import Ranked, ScopeFilter, item_columns, rowid_of, unindexed
from memori.backends.sqlite.text_index import WORD, bm25, plain_words, term_counts
from memori.backends.sqlite.versions import Kind, read_version
from memori.core.cjk import has_cjk
from memori.core.scores import relevance_score

MAX_MATCHED = 2_000
"""Matching rows ranked here at most; above it FTS5's ``bm25()`` ranks them."""
KEPT_ENTITIES = 4_096
"""Entities whose row count and total length are kept (least recently used go)."""


def row_size(sizes: bytes) -> int:
    """The length of an FTS5 row: the sum of the varints of its size-table blob (one per
    column, SQLite's varint format: seven bits a byte, the high bit set on all but the
    last byte)."""
    total = value = 0
    for byte in sizes:
        value = (value << 7) | (byte & 0x7F)
        if byte < 0x80:
            total, value = total + value, 0
    return total


class EntityLengths:
    """The row count and total length of each entity's rows of one kind, per version."""

    def __init__(self, keep: int = KEPT_ENTITIES) -> None:
        self._keep = keep
        self._known: OrderedDict[tuple[str, str], tuple[int | None, int, int]] = OrderedDict()
        self._lock = threading.Lock()

    def of(self, conn: Connection, kind: Kind, table: Table, entity_id: str) -> tuple[int, int]:
        """``(rows, total length)`` of the entity's ``kind`` rows."""
        version = read_version(conn, kind, entity_id)
        key = (kind, entity_id)
        with self._lock:
            held = self._known.get(key)
            if held is not None and held[0] == version:
                self._known.move_to_end(key)
                return held[1], held[2]
        fts = fts_table(table.name)
        sizes = driver_rows(
            conn, f"SELECT sz FROM {fts}_docsize WHERE id IN "
                  f"(SELECT rowid FROM {fts} WHERE {fts} MATCH ?)",
            (entity_expression(entity_id),))
        rows, total = len(sizes), sum(row_size(bytes(sz)) for (sz,) in sizes)
        with self._lock:
            self._known[key] = (version, rows, total)
            self._known.move_to_end(key)
            while len(self._known) > self._keep:
                self._known.popitem(last=False)
        return rows, total

    def forget(self, entity_id: str) -> None:
        """Drop what is kept of the entity (it was forgotten)."""
        with self._lock:
            for key in [k for k in self._known if k[1] == entity_id]:
                del self._known[key]


def entity_text_candidates(
    conn: Connection, table: Table, kind: Kind, scope_filter: ScopeFilter, entity_id: str,
    text: str, limit: int, lengths: EntityLengths,
) -> Ranked | None:
    """The scope's rows matching any word of ``text``, best first, with the BM25 of the
    in-process text index (see the module); None when more than :data:`MAX_MATCHED` of
    the entity's rows match."""
    expression = match_expression(entity_id, text)
    if expression is None or limit <= 0:
        return []
    fts_name = fts_table(table.name)
    fts_rows = sql_table(fts_name, column("rowid"))
    sizes = sql_table(f"{fts_name}_docsize", column("id"), column("sz"))
    rowid = rowid_of(table)
    in_scope = case((scope_filter(unindexed(table.c.entity_id)), 1), else_=0)
    matched = conn.execute(
        select(rowid, table.c.content, sizes.c.sz, in_scope, table.c.created_at, table.c.id)
        .select_from(fts_rows.join(table, fts_rows.c.rowid == rowid)
                     .join(sizes, sizes.c.id == rowid))
        .where(literal_column(fts_name).op("MATCH")(bindparam("memori_match", expression)))
        .limit(MAX_MATCHED + 1)
    ).all()
    if len(matched) > MAX_MATCHED:
        return None
    if not matched:
        return []
    living, total = lengths.of(conn, kind, table, entity_id)
    terms = list(dict.fromkeys(query_tokens(text)))
    scores = _bm25([_term_frequencies(row[1] or "", terms) for row in matched],
                   [row_size(bytes(row[2])) for row in matched], living, total)
    best = sorted(
        ((-score, row[4], row[5], row[0]) for row, score in zip(matched, scores, strict=True)
         if row[3] and score > 0.0),
    )[:limit]
    if not best:
        return []
    wanted = [entry[3] for entry in best]
    rows = {
        row["memori_rowid"]: row for row in conn.execute(
            select(*item_columns(table), rowid.label("memori_rowid"))
            .where(rowid.in_(wanted))
        ).mappings()
    }
    return [(rows[r]["id"], rows[r], relevance_score(-neg)) for neg, _, _, r in best if r in rows]


def _term_frequencies(content: str, terms: list[str]) -> list[int]:
    """How often each of ``terms`` occurs in ``content``, words cut as the text index
    cuts them (``text_index.term_counts``; plain words where the text holds no CJK)."""
    if has_cjk(content):
        counts = term_counts(content)
        return [counts.get(term, 0) for term in terms]
    # ASCII: lower-casing first changes no word's boundaries (it may elsewhere: "İ")
    found = WORD.findall(content.lower()) if content.isascii() else plain_words(content)
    return [found.count(term) for term in terms]


def _bm25(frequencies: list[list[int]], lengths: list[int], living: int, total: int
          ) -> list[float]:
    """Each row's BM25 as ``TextIndex.scores`` computes it (``text_index.bm25``):
    ``frequencies[row][i]`` is how often query word ``i`` occurs in the row, ``lengths``
    the rows' lengths (the FTS5 size table's), of ``living`` rows of ``total`` length."""
    if living <= 0 or not frequencies:
        return [0.0] * len(frequencies)
    tfs = np.array(frequencies, dtype=np.float64)
    terms, rows = np.nonzero(tfs.T)  # term by term, each term's rows in order
    scores = bm25(rows, tfs[rows, terms], terms, tfs.shape[1],
                  np.array(lengths, dtype=np.float64)[rows], total / living or 1.0, living,
                  len(frequencies))
    out: list[float] = scores.tolist()
    return out
