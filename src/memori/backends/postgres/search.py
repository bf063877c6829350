"""Search statements for PostgreSQL: tsvector text, pgvector cosine, and both fused in SQL.

Every statement is filtered by the caller's scope (entity first, so the
entity-leading indexes apply) and returns whole rows plus ``memori_rank``
(``ts_rank``), ``memori_distance`` (cosine distance) and, when fused,
``memori_score`` (reciprocal rank fusion normalised to [0, 1]). Ties go to the
older item, then the smaller id in code-point order (``COLLATE "C"``).

Two vector paths rank the same rows the same way:

- exact: ``embedding <=> q`` over the scope's rows, reached through the
  entity-leading btree index; the expression deliberately differs from the HNSW
  index expression so the planner cannot pick the graph for a small entity
  (a post-filtered graph scan would return too few of its rows);
- ann: ``embedding::vector(N) <=> q::vector(N)`` with ``vector_dims(embedding) = N``,
  which matches the partial HNSW expression index that ``setup()`` creates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Float,
    Select,
    Table,
    and_,
    bindparam,
    cast,
    func,
    literal,
    select,
)
from sqlalchemy.sql.expression import BindParameter

from memori.backends.postgres.layout import SEARCH_COLUMN, TSQUERY, VECTOR, VectorType
from memori.backends.postgres.text import scoped_tsquery_text
from memori.backends.sql.scoring import RRF_K

RANK = "memori_rank"
DISTANCE = "memori_distance"
SCORE = "memori_score"
VECTOR_COUNT = "memori_vector_count"


@dataclass(frozen=True)
class VectorQuery:
    """A query vector (pgvector text), the store's dimension and the path to take."""

    text: str
    dim: int
    ann: bool = False


def index_name(table: str, dim: int) -> str:
    """Name of the partial HNSW index of ``table`` for dimension ``dim``."""
    return f"{table}_hnsw_{dim}"


def hnsw_index_sql(qualified_table: str, table: str, dim: int, *, m: int, ef_construction: int,
                   quote: Any) -> str:
    """``CREATE INDEX IF NOT EXISTS`` of the cosine HNSW index over vectors of ``dim``."""
    return (
        f"CREATE INDEX IF NOT EXISTS {quote(index_name(table, dim))} ON {qualified_table} "
        f"USING hnsw ((embedding::vector({int(dim)})) vector_cosine_ops) "
        f"WITH (m = {int(m)}, ef_construction = {int(ef_construction)}) "
        f"WHERE vector_dims(embedding) = {int(dim)}"
    )


def _row(table: Table) -> list[ColumnElement[Any]]:
    """The model columns (the search column stays in the database)."""
    return [c for c in table.c if c.name != SEARCH_COLUMN]


def _tiebreak(table: Table) -> list[ColumnElement[Any]]:
    return [table.c.created_at, table.c.id.collate("C")]


def _once(param: BindParameter[Any]) -> ColumnElement[Any]:
    """``(SELECT CAST(:param AS type))``: cast once per statement (an InitPlan), not per row.

    A prepared statement's generic plan would otherwise parse the parameter's text
    for every row it compares.
    """
    return select(param).scalar_subquery()


def _text_parts(
    table: Table, where: ColumnElement[bool], entity_id: str, query_text: str
) -> tuple[ColumnElement[Any], list[ColumnElement[bool]]]:
    """``ts_rank`` over the query words; the match also names the entity (see ``text``)."""
    words = _once(bindparam("memori_tsquery", query_text, type_=TSQUERY))
    scoped = _once(bindparam("memori_scoped_tsquery", scoped_tsquery_text(query_text, entity_id),
                             type_=TSQUERY))
    rank = func.ts_rank(table.c.search_tsv, words)
    return rank, [where, table.c.search_tsv.op("@@")(scoped)]


def _vector_parts(
    table: Table, where: ColumnElement[bool], vq: VectorQuery
) -> tuple[ColumnElement[Any], list[ColumnElement[bool]]]:
    dims = func.vector_dims(table.c.embedding) == vq.dim
    distance: ColumnElement[Any]
    if vq.ann:
        typed = VectorType(vq.dim)
        q = _once(bindparam("memori_vector", vq.text, type_=typed))
        distance = cast(table.c.embedding, typed).op("<=>", return_type=Float)(q)
    else:  # a zero vector has no direction: NaN distance, scored as cosine 0 (distance 1)
        q = _once(bindparam("memori_vector", vq.text, type_=VECTOR))
        raw = table.c.embedding.op("<=>", return_type=Float)(q)
        distance = func.coalesce(func.nullif(raw, literal(float("nan"), Float)), 1.0)
    return distance, [where, table.c.embedding.is_not(None), dims]


def text_search(
    table: Table, where: ColumnElement[bool], entity_id: str, query_text: str, limit: int
) -> Select[Any]:
    """Rows matching any query word, by ``ts_rank`` (best first)."""
    rank, conds = _text_parts(table, where, entity_id, query_text)
    return (
        select(*_row(table), rank.label(RANK))
        .where(*conds)
        .order_by(rank.desc(), *_tiebreak(table))
        .limit(limit)
    )


def vector_search(
    table: Table, where: ColumnElement[bool], vq: VectorQuery, limit: int
) -> Select[Any]:
    """Rows with a vector of the store's dimension, nearest first."""
    distance, conds = _vector_parts(table, where, vq)
    stmt = select(*_row(table), distance.label(DISTANCE)).where(*conds)
    if vq.ann:  # the graph yields rows in distance order: no tiebreak, or the index is unused
        return stmt.order_by(distance).limit(limit)
    return stmt.order_by(distance, *_tiebreak(table)).limit(limit)


def _ranked(
    table: Table, value: ColumnElement[Any], conds: list[ColumnElement[bool]],
    order: list[ColumnElement[Any]], pool: int, name: str, label: str,
) -> Any:
    inner = (
        select(table.c.id, table.c.created_at, value.label(label))
        .where(*conds).order_by(*order).limit(pool).subquery(f"{name}_pool")
    )
    inner_order = [inner.c[label].desc() if label == RANK else inner.c[label],
                   inner.c.created_at, inner.c.id.collate("C")]
    return select(
        inner.c.id, inner.c[label], func.row_number().over(order_by=inner_order).label("rn")
    ).cte(name)


def fused_search(
    table: Table, where: ColumnElement[bool], entity_id: str, query_text: str,
    vq: VectorQuery, limit: int, pool: int,
) -> Select[Any]:
    """Text and vector rankings (``pool`` candidates each) fused by RRF inside PostgreSQL."""
    rank, tconds = _text_parts(table, where, entity_id, query_text)
    distance, vconds = _vector_parts(table, where, vq)
    t = _ranked(table, rank, tconds, [rank.desc(), *_tiebreak(table)], pool, "memori_t", RANK)
    v_order = [distance] if vq.ann else [distance, *_tiebreak(table)]
    v = _ranked(table, distance, vconds, v_order, pool, "memori_v", DISTANCE)
    k = float(RRF_K)

    def part(rn: ColumnElement[Any]) -> ColumnElement[Any]:
        return func.coalesce(literal(1.0, Float) / (literal(k, Float) + rn), 0.0)

    score = (part(t.c.rn) + part(v.c.rn)) * literal((k + 1.0) / 2.0, Float)
    found = func.coalesce(t.c.id, v.c.id)
    vector_count = select(func.count()).select_from(v).scalar_subquery()
    fused = (
        select(found.label("fid"), t.c[RANK], v.c[DISTANCE], score.label(SCORE),
               vector_count.label(VECTOR_COUNT))
        .select_from(t.join(v, t.c.id == v.c.id, full=True))
        .subquery("memori_fused")
    )
    return (
        select(*_row(table), fused.c[RANK], fused.c[DISTANCE], fused.c[SCORE],
               fused.c[VECTOR_COUNT])
        .select_from(fused.join(table, and_(table.c.entity_id == entity_id,
                                            table.c.id == fused.c.fid)))
        .order_by(fused.c[SCORE].desc(), *_tiebreak(table))
        .limit(limit)
    )


def size_probe(table: Table, entity_id: str, cap: int) -> Select[Any]:
    """How many rows the entity holds, counted up to ``cap`` (an index-only scan of its keys)."""
    capped = (
        select(literal(1).label("one")).select_from(table)
        .where(table.c.entity_id == entity_id).limit(cap).subquery("memori_capped")
    )
    return select(func.count().label("n")).select_from(capped)
