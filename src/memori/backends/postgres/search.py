"""Search statements for PostgreSQL: tsvector text, pgvector cosine, and both fused in SQL.

Every statement is filtered by the caller's scope (entity first, so the
entity-leading indexes apply) and returns the model's columns plus ``memori_rank``
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

Statements hold named parameters only (the scope's ids, the query, the limits),
so each shape is built once per store and reused: building and compiling a
fused statement cost more CPU than PostgreSQL spends running it.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from sqlalchemy import (
    ColumnElement,
    Float,
    Integer,
    Select,
    String,
    Table,
    and_,
    bindparam,
    cast,
    func,
    literal,
    select,
)

from memori.backends.postgres.layout import SEARCH_COLUMN, TSQUERY, VECTOR, VectorType
from memori.backends.sql.filters import memories_where, turns_where
from memori.backends.sql.tables import TURNS
from memori.core.models import Scope
from memori.core.scores import RRF_K

RANK = "memori_rank"
DISTANCE = "memori_distance"
SCORE = "memori_score"
VECTOR_COUNT = "memori_vector_count"


P_ENTITY = "memori_e"
P_PROCESS = "memori_p"
P_SESSION = "memori_s"
P_WORDS = "memori_tsquery"
P_SCOPED = "memori_scoped_tsquery"
P_VECTOR = "memori_vector"
P_LIMIT = "memori_limit"
P_POOL = "memori_pool"
P_CAP = "memori_cap"


class Shape(NamedTuple):
    """What decides a search statement's SQL (never the values of ids or queries)."""

    table: str
    mode: str
    """``text``, ``vector`` or ``fused``."""
    ann: bool
    has_process: bool
    has_session: bool
    include_superseded: bool


def shape_of(
    table: Table, mode: str, ann: bool, scope: Scope, include_superseded: bool
) -> Shape:
    return Shape(table.name, mode, ann, scope.process_id is not None,
                 scope.session_id is not None, include_superseded)


def scope_params(scope: Scope) -> dict[str, Any]:
    """Values of the scope parameters of every search statement."""
    return {P_ENTITY: scope.entity_id, P_PROCESS: scope.process_id, P_SESSION: scope.session_id}


def scope_filter(table: Table, shape: Shape) -> ColumnElement[bool]:
    """The visibility rules of ``memori.backends.sql.filters`` over named parameters."""
    entity = bindparam(P_ENTITY, type_=String)
    process = bindparam(P_PROCESS, type_=String) if shape.has_process else None
    if table.name == TURNS:
        session = bindparam(P_SESSION, type_=String) if shape.has_session else None
        return turns_where(table, entity, process, session)
    return memories_where(table, entity, process, include_superseded=shape.include_superseded)


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


def _once(name: str, type_: Any) -> ColumnElement[Any]:
    """``(SELECT CAST(:name AS type))``: cast once per statement (an InitPlan), not per row.

    A prepared statement's generic plan would otherwise parse the parameter's text
    for every row it compares.
    """
    return select(bindparam(name, type_=type_)).scalar_subquery()


def _text_parts(
    table: Table, where: ColumnElement[bool]
) -> tuple[ColumnElement[Any], list[ColumnElement[bool]]]:
    """``ts_rank`` over the query words; the match also names the entity (see ``text``)."""
    rank = func.ts_rank(table.c.search_tsv, _once(P_WORDS, TSQUERY))
    return rank, [where, table.c.search_tsv.op("@@")(_once(P_SCOPED, TSQUERY))]


def _vector_parts(
    table: Table, where: ColumnElement[bool], dim: int, ann: bool
) -> tuple[ColumnElement[Any], list[ColumnElement[bool]]]:
    dims = func.vector_dims(table.c.embedding) == literal(int(dim), Integer)
    distance: ColumnElement[Any]
    if ann:
        typed = VectorType(dim)
        q = _once(P_VECTOR, typed)
        distance = cast(table.c.embedding, typed).op("<=>", return_type=Float)(q)
    else:  # a zero vector has no direction: NaN distance, scored as cosine 0 (distance 1)
        raw = table.c.embedding.op("<=>", return_type=Float)(_once(P_VECTOR, VECTOR))
        distance = func.coalesce(func.nullif(raw, literal(float("nan"), Float)), 1.0)
    return distance, [where, table.c.embedding.is_not(None), dims]


def _limit(name: str) -> Any:
    return bindparam(name, type_=Integer)


def text_search(table: Table, shape: Shape) -> Select[Any]:
    """Rows matching any query word, by ``ts_rank`` (best first)."""
    rank, conds = _text_parts(table, scope_filter(table, shape))
    return (
        select(*_row(table), rank.label(RANK))
        .where(*conds)
        .order_by(rank.desc(), *_tiebreak(table))
        .limit(_limit(P_LIMIT))
    )


def vector_search(table: Table, shape: Shape, dim: int) -> Select[Any]:
    """Rows with a vector of the store's dimension, nearest first."""
    distance, conds = _vector_parts(table, scope_filter(table, shape), dim, shape.ann)
    stmt = select(*_row(table), distance.label(DISTANCE)).where(*conds)
    if shape.ann:  # the graph yields rows in distance order: no tiebreak, or the index is unused
        return stmt.order_by(distance).limit(_limit(P_LIMIT))
    return stmt.order_by(distance, *_tiebreak(table)).limit(_limit(P_LIMIT))


def _ranked(
    table: Table, value: ColumnElement[Any], conds: list[ColumnElement[bool]],
    order: list[ColumnElement[Any]], name: str, label: str,
) -> Any:
    inner = (
        select(table.c.id, table.c.created_at, value.label(label))
        .where(*conds).order_by(*order).limit(_limit(P_POOL)).subquery(f"{name}_pool")
    )
    inner_order = [inner.c[label].desc() if label == RANK else inner.c[label],
                   inner.c.created_at, inner.c.id.collate("C")]
    return select(
        inner.c.id, inner.c[label], func.row_number().over(order_by=inner_order).label("rn")
    ).cte(name)


def fused_search(table: Table, shape: Shape, dim: int) -> Select[Any]:
    """Text and vector rankings (``pool`` candidates each) fused by RRF inside PostgreSQL."""
    where = scope_filter(table, shape)
    rank, tconds = _text_parts(table, where)
    distance, vconds = _vector_parts(table, where, dim, shape.ann)
    t = _ranked(table, rank, tconds, [rank.desc(), *_tiebreak(table)], "memori_t", RANK)
    v_order = [distance] if shape.ann else [distance, *_tiebreak(table)]
    v = _ranked(table, distance, vconds, v_order, "memori_v", DISTANCE)
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
    on = and_(table.c.entity_id == bindparam(P_ENTITY, type_=String), table.c.id == fused.c.fid)
    return (
        select(*_row(table), fused.c[RANK], fused.c[DISTANCE], fused.c[SCORE],
               fused.c[VECTOR_COUNT])
        .select_from(fused.join(table, on))
        .order_by(fused.c[SCORE].desc(), *_tiebreak(table))
        .limit(_limit(P_LIMIT))
    )


def search_statement(table: Table, shape: Shape, dim: int | None) -> Select[Any]:
    """The statement of ``shape`` (built by the store once, then reused)."""
    if shape.mode == "text":
        return text_search(table, shape)
    assert dim is not None
    if shape.mode == "vector":
        return vector_search(table, shape, dim)
    return fused_search(table, shape, dim)


def size_probe(table: Table) -> Select[Any]:
    """How many rows the entity holds, counted up to ``:memori_cap`` (index-only scan)."""
    capped = (
        select(literal(1).label("one")).select_from(table)
        .where(table.c.entity_id == bindparam(P_ENTITY, type_=String))
        .limit(_limit(P_CAP)).subquery("memori_capped")
    )
    return select(func.count().label("n")).select_from(capped)
