"""Ranked text and vector candidates inside a scope, in SQL, for the SQLite store.

Each ``*_candidates`` function returns ``(id, row mapping, score)`` best first, with
scores in [0, 1]; the store maps rows to models and fuses the lists when both are
asked. What the in-process accelerator does not answer is answered here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    Column,
    ColumnElement,
    String,
    Table,
    bindparam,
    column,
    func,
    literal_column,
    select,
)
from sqlalchemy import table as sql_table
from sqlalchemy.engine import Connection
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import UnaryExpression
from sqlalchemy.sql.operators import custom_op

from memori.backends.sql.rows import RowLike
from memori.backends.sqlite.connection import driver_rows
from memori.backends.sqlite.fts import fts_table, match_expression
from memori.backends.sqlite.vectors import distance_to_cosine, exact_cosines, top_k
from memori.core.models import Memory, Turn
from memori.core.scores import cosine_score, relevance_score

Ranked = list[tuple[str, RowLike, float]]
Item = Turn | Memory
Found = list[tuple[str, Item, float]]
"""Ranked items: ``(id, item, score)`` best first."""
ScopeFilter = Callable[[ColumnElement[str] | None], ColumnElement[bool]]
"""Builds the scope's WHERE clause, given the expression to compare the entity id with."""


def unindexed(column: ColumnElement[str]) -> ColumnElement[str]:
    """``+column``: same value, but SQLite will not drive the query from an index on it."""
    return UnaryExpression(column, operator=custom_op("+"), type_=String())


def item_columns(table: Table) -> list[Column[Any]]:
    """The columns an item is read from: all but its vector (search results carry
    none, so the blob is never read for them)."""
    return [c for c in table.columns if c.name != "embedding"]


def rowid_of(table: Table) -> ColumnElement[Any]:
    """The table's ``rowid`` (what its FTS5 table's rows are keyed by)."""
    return literal_column(f"{table.name}.rowid")


def text_candidates(
    conn: Connection, table: Table, scope_filter: ScopeFilter, entity_id: str, text: str,
    limit: int,
) -> Ranked:
    """Rows matching any word of ``text`` (FTS5, bm25 over ``content``), best first.

    The FTS index drives the query (its entity token narrows it to the entity);
    the base rows are then fetched by rowid and filtered by the scope.
    """
    expression = match_expression(entity_id, text)
    if expression is None or limit <= 0:
        return []
    fts_name = fts_table(table.name)
    fts_rows = sql_table(fts_name, column("rowid"))
    fts: ColumnElement[Any] = literal_column(fts_name)
    rank = func.bm25(fts, 1.0, 0.0).label("memori_rank")
    # Rank and cut on the light columns first, then read the whole rows of the
    # winners only: sorting every match with its content and vector was most
    # of the cost when the query's words are common.
    best = (
        select(rowid_of(table).label("memori_rowid"), rank)
        .select_from(fts_rows.join(table, fts_rows.c.rowid == rowid_of(table)))
        .where(fts.op("MATCH")(bindparam("memori_match", expression)))
        .where(scope_filter(unindexed(table.c.entity_id)))
        .order_by(rank, table.c.created_at, table.c.id)
        .limit(limit)
        .subquery("memori_best")
    )
    stmt = (
        select(*item_columns(table), best.c.memori_rank)
        .select_from(best.join(table, rowid_of(table) == best.c.memori_rowid))
        .order_by(best.c.memori_rank, table.c.created_at, table.c.id)
    )
    out: Ranked = []
    for row in conn.execute(stmt).mappings():
        out.append((row["id"], row, relevance_score(-float(row["memori_rank"]))))
    return out


def _vector_rows_filter(table: Table, nbytes: int) -> list[ColumnElement[bool]]:
    return [table.c.embedding.is_not(None), func.length(table.c.embedding) == nbytes]


def vector_candidates_sqlite_vec(
    conn: Connection, table: Table, where: ColumnElement[bool],
    query: npt.NDArray[np.float32], limit: int,
) -> Ranked:
    """Nearest rows by ``vec_distance_cosine`` computed inside SQLite, best first."""
    if limit <= 0:
        return []
    distance = func.coalesce(
        func.vec_distance_cosine(table.c.embedding, bindparam("memori_q", query.tobytes())), 1.0
    ).label("memori_distance")
    stmt = (
        select(*item_columns(table), distance)
        .where(where, *_vector_rows_filter(table, query.nbytes))
        .order_by(distance, table.c.created_at, table.c.id)
        .limit(limit)
    )
    out: Ranked = []
    for row in conn.execute(stmt).mappings():
        cos = distance_to_cosine(row["memori_distance"])
        out.append((row["id"], row, cosine_score(cos)))
    return out


def _raw_rows(conn: Connection, stmt: Select[Any]) -> list[Any]:
    """The statement's rows as the driver returns them (no per-row SQLAlchemy processing).

    Used where thousands of blobs are read and only bytes, floats and strings are needed.
    """
    compiled = stmt.compile(dialect=conn.dialect)
    names = compiled.positiontup or []
    params = [compiled.params[name] for name in names]
    return driver_rows(conn, str(compiled), params)


def vector_candidates_exact(
    conn: Connection, table: Table, where: ColumnElement[bool], entity_id: str,
    query: npt.NDArray[np.float32], limit: int,
) -> Ranked:
    """Nearest rows by an exact numpy scan of the scope's vectors only, best first."""
    if limit <= 0:
        return []
    rowid = rowid_of(table).label("memori_rowid")
    stmt = select(rowid, table.c.embedding, table.c.created_at, table.c.id).where(
        where, *_vector_rows_filter(table, query.nbytes)
    )
    pairs = _raw_rows(conn, stmt)
    if not pairs:
        return []
    cosines = exact_cosines(query, [bytes(p[1]) for p in pairs])
    best = top_k(cosines, limit, lambda i: (float(pairs[i][2]), str(pairs[i][3])))
    wanted = {int(pairs[i][0]): float(cosines[i]) for i in best}
    rows = conn.execute(
        select(*item_columns(table), rowid)
        .where(table.c.entity_id == entity_id, rowid.in_(list(wanted)))
    ).mappings()
    by_rowid = {int(r["memori_rowid"]): r for r in rows}
    out: Ranked = []
    for i in best:
        row = by_rowid.get(int(pairs[i][0]))
        if row is not None:
            out.append((row["id"], row, cosine_score(wanted[int(pairs[i][0])])))
    return out
