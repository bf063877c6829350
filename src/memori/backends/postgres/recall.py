"""Search plans: validate, pick the vector path, run one statement, turn rows into hits.

Vector path (see ``search``): exact in-scope scan unless the store has an HNSW
index and the entity holds at least ``AnnSettings.min_rows`` rows; a graph scan
that comes back short (the scope filter runs after the graph walk) is redone
exactly, so a search never returns fewer hits than the scope holds.
"""

from __future__ import annotations

from array import array
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import Table, func, select

from memori.backends.postgres import bm25, search
from memori.backends.postgres.context import Context
from memori.backends.postgres.steps import Exec, Explain
from memori.backends.postgres.text import query_words, scoped_tsquery_text, words_tsquery
from memori.backends.postgres.vectors import to_text
from memori.backends.sql.rows import RowLike
from memori.core.models import Hit, Scope
from memori.core.plan_store import Plan
from memori.core.scores import cosine_score, relevance_score
from memori.core.store_rules import check_vector

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
    ctx: Context, text: Any, vector: Sequence[float] | None
) -> tuple[list[str], array[float] | None]:
    """Validate a search call; returns the query's words (none: no text search) and
    the vector."""
    if text is None and vector is None:
        raise ValueError("search needs text, a vector, or both")
    if text is not None and not isinstance(text, str):
        raise ValueError("text must be a str")
    query = None if vector is None else check_vector(vector, ctx.vector_dim)
    return ([] if text is None else query_words(text)), query


def search_plan(
    ctx: Context, table: Table, scope: Scope, text: str | None,
    vector: Sequence[float] | None, limit: int, to_model: Callable[[RowLike], M], *,
    include_superseded: bool = False, explain: bool = False,
) -> Plan[Any]:
    """Hits of ``table`` visible to ``scope``, best first (or the EXPLAIN document)."""
    terms, query = check_search_args(ctx, text, vector)
    tq = words_tsquery(terms)
    params: dict[str, Any] = {**search.scope_params(scope), search.P_LIMIT: limit,
                              search.P_POOL: max(limit * POOL_FACTOR, MIN_POOL)}
    if tq is not None:  # a text without words adds nothing: the vector alone ranks
        params[search.P_WORDS] = tq
        params[search.P_SCOPED] = scoped_tsquery_text(tq, scope.entity_id)
    if query is not None:
        params[search.P_VECTOR] = to_text(query)
    mode = "text" if query is None else ("vector" if tq is None else "fused")
    if mode == "text" and not explain:
        return _text_search(ctx, table, scope, include_superseded, terms, params, to_model)
    return _search(ctx, table, scope, include_superseded, mode, params, to_model, explain)


def _text_search(
    ctx: Context, table: Table, scope: Scope, include_superseded: bool, terms: list[str],
    params: dict[str, Any], to_model: Callable[[RowLike], Any],
) -> Plan[list[Hit]]:
    """A pool of candidates by ``ts_rank``, ordered by BM25 (see ``bm25``)."""
    limit = params[search.P_LIMIT]
    if limit == 0 or not terms:  # a text without words finds nothing
        return []
    shape = search.shape_of(table, "text", False, scope, include_superseded)
    pool = {**params, search.P_LIMIT: max(params[search.P_POOL], limit)}
    rows = (yield Exec(_statement(ctx, table, shape), pool)).mappings().all()
    if not rows:
        return []
    key = ("bm25", table.name)
    statement = ctx.statements.get(key)
    if statement is None:
        statement = ctx.statements[key] = bm25.statistics_statement(table)
    counts = (yield Exec(statement, {
        bm25.P_ENTITY: scope.entity_id, bm25.P_COUNT_CAP: bm25.COUNT_CAP,
        bm25.P_WORD_CAP: bm25.WORD_COUNT_CAP,
        bm25.P_WORD_QUERIES: [scoped_tsquery_text(words_tsquery([t]) or "", scope.entity_id)
                              for t in terms],
    })).all()
    holding = [int(c[1]) for c in counts]
    scored = bm25.scores([str(r["content"]) for r in rows], terms, holding,
                         int(counts[0][2]) if counts else len(rows))
    ranked = sorted(zip(scored, rows, strict=True),
                    key=lambda pair: (-pair[0], pair[1]["created_at"], pair[1]["id"]))
    best = [{**row, search.RANK: score} for score, row in ranked[:limit]]
    return _hits(best, to_model, "text")


def _statement(ctx: Context, table: Table, shape: search.Shape) -> Any:
    found = ctx.statements.get(shape)
    if found is None:
        found = ctx.statements[shape] = search.search_statement(table, shape, ctx.vector_dim)
    return found


def _search(
    ctx: Context, table: Table, scope: Scope, include_superseded: bool, mode: str,
    params: dict[str, Any], to_model: Callable[[RowLike], Any], explain: bool,
) -> Plan[Any]:
    if params[search.P_LIMIT] == 0 or (mode == "text" and search.P_WORDS not in params):
        return [] if not explain else None
    ann = False
    if mode != "text" and ctx.ann is not None:
        probe = ctx.statements.get(("probe", table.name))
        if probe is None:
            probe = ctx.statements[("probe", table.name)] = search.size_probe(table)
        n = (yield Exec(probe, {search.P_ENTITY: scope.entity_id,
                                search.P_CAP: ctx.ann.min_rows})).scalar_one()
        if int(n) >= ctx.ann.min_rows:
            yield Exec(select(func.set_config("hnsw.ef_search", str(ctx.ann.ef_search), True)))
            ann = True
    shape = search.shape_of(table, mode, ann, scope, include_superseded)
    if explain:
        return (yield Explain(_statement(ctx, table, shape), params))
    rows = (yield Exec(_statement(ctx, table, shape), params)).mappings().all()
    if ann and _short(rows, mode == "fused", params[search.P_LIMIT], params[search.P_POOL]):
        exact = shape._replace(ann=False)
        rows = (yield Exec(_statement(ctx, table, exact), params)).mappings().all()
    return _hits(rows, to_model, mode)


def _short(rows: Sequence[RowLike], fused: bool, limit: int, pool: int) -> bool:
    """Whether a graph scan may have missed in-scope rows (it returned fewer than asked)."""
    if not fused:
        return len(rows) < limit
    counts = [int(r[search.VECTOR_COUNT]) for r in rows[:1]]
    return not counts or counts[0] < pool
