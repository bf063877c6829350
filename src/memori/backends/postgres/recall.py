"""Search plans: validate, pick the vector path, run one statement, turn rows into hits.

Vector path (see ``search``): exact in-scope scan unless the store has an HNSW
index and the entity holds at least ``AnnSettings.min_rows`` rows; a graph scan
that comes back short (the scope filter runs after the graph walk) is redone
exactly, so a search never returns fewer hits than the scope holds.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt
from sqlalchemy import ColumnElement, Table, func, select

from memori.backends.postgres import search
from memori.backends.postgres.context import Context, check_limit
from memori.backends.postgres.steps import Exec, Explain, Plan
from memori.backends.postgres.text import tsquery_text
from memori.backends.postgres.vectors import check_vector, to_text
from memori.backends.sql.rows import RowLike
from memori.backends.sql.scoring import cosine_score, relevance_score
from memori.core.models import Hit

POOL_FACTOR = 4
"""Candidates per ranking, as a multiple of ``limit``, before text and vectors are fused."""
MIN_POOL = 40

M = TypeVar("M")


def _vector_score(distance: Any) -> float:
    if distance is None:
        return 0.5
    return cosine_score(1.0 - float(distance))


def _hits(rows: Sequence[RowLike], to_model: Callable[[RowLike], Any], mode: str) -> list[Hit]:
    hits = []
    for row in rows:
        signals: dict[str, float] = {}
        if row.get(search.RANK) is not None:
            signals["text"] = relevance_score(float(row[search.RANK]))
        if row.get(search.DISTANCE) is not None or mode == "vector":
            signals["vector"] = _vector_score(row.get(search.DISTANCE))
        score = min(1.0, max(0.0, float(row[search.SCORE]))) if mode == "fused" else signals[mode]
        hits.append(Hit(to_model(row), score, signals))
    return hits


def check_search_args(
    ctx: Context, text: Any, vector: Sequence[float] | None, limit: Any
) -> tuple[str | None, npt.NDArray[np.float32] | None]:
    """Validate a search call; returns the tsquery text (None: no words) and the vector."""
    check_limit(limit)
    if text is None and vector is None:
        raise ValueError("search needs text, a vector, or both")
    if text is not None and not isinstance(text, str):
        raise ValueError("text must be a str")
    query = None if vector is None else check_vector(vector, ctx.vector_dim)
    return (None if text is None else tsquery_text(text)), query


def search_plan(
    ctx: Context, table: Table, where: ColumnElement[bool], entity_id: str,
    text: str | None, vector: Sequence[float] | None, limit: int,
    to_model: Callable[[RowLike], M], *, explain: bool = False,
) -> Plan[Any]:
    """Hits of ``table`` inside ``where``, best first (or the EXPLAIN document)."""
    tq, query = check_search_args(ctx, text, vector, limit)
    with_text = tq is not None  # a text without words adds nothing: the vector alone ranks
    return _search(ctx, table, where, entity_id, with_text, tq, query, limit, to_model, explain)


def _search(
    ctx: Context, table: Table, where: ColumnElement[bool], entity_id: str, with_text: bool,
    tq: str | None, query: npt.NDArray[np.float32] | None, limit: int,
    to_model: Callable[[RowLike], Any], explain: bool,
) -> Plan[Any]:
    if limit == 0 or (query is None and tq is None):
        return [] if not explain else None
    if query is None:
        assert tq is not None
        stmt = search.text_search(table, where, entity_id, tq, limit)
        if explain:
            return (yield Explain(stmt))
        rows = (yield Exec(stmt)).mappings().all()
        return _hits(rows, to_model, "text")
    assert ctx.vector_dim is not None
    vq = search.VectorQuery(to_text(query), ctx.vector_dim)
    if ctx.ann is not None:
        n = (yield Exec(search.size_probe(table, entity_id, ctx.ann.min_rows))).scalar_one()
        if int(n) >= ctx.ann.min_rows:
            yield Exec(select(func.set_config("hnsw.ef_search", str(ctx.ann.ef_search), True)))
            vq = replace(vq, ann=True)
    pool = max(limit * POOL_FACTOR, MIN_POOL)

    def statement(v: search.VectorQuery) -> Any:
        if not with_text:
            return search.vector_search(table, where, v, limit)
        return search.fused_search(table, where, entity_id, tq or "", v, limit, pool)

    if explain:
        return (yield Explain(statement(vq)))
    rows = (yield Exec(statement(vq))).mappings().all()
    if vq.ann and _short(rows, with_text, limit, pool):
        rows = (yield Exec(statement(replace(vq, ann=False)))).mappings().all()
    return _hits(rows, to_model, "fused" if with_text else "vector")


def _short(rows: Sequence[RowLike], fused: bool, limit: int, pool: int) -> bool:
    """Whether a graph scan may have missed in-scope rows (it returned fewer than asked)."""
    if not fused:
        return len(rows) < limit
    counts = [int(r[search.VECTOR_COUNT]) for r in rows[:1]]
    return not counts or counts[0] < pool
