"""Search plans: text, vector, or both fused, always inside the scope filter.

With both a text and a vector query, each side ranks a pool of candidates and
the two rankings are fused by reciprocal rank fusion, normalised so that first
in both rankings scores 1.0. Ties go to the older item, then the smaller id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from memori.backends.mongo import text_search, vector_search
from memori.backends.mongo.documents import result_projection
from memori.backends.mongo.features import Features, Mode, recheck_vector, vector_index_name
from memori.backends.mongo.filters import Filter, both
from memori.backends.mongo.ops import Aggregate, Find, Plan

OLDEST_FIRST = (("created_at", 1), ("id", 1))
FUSION_POOL_MIN = 100
"""Candidates each side brings to a fused search, at least."""
RRF_K = 60


@dataclass
class Scored:
    """A matching document with its score in [0, 1] and the signals behind it."""

    doc: dict[str, Any]
    score: float
    signals: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class Query:
    """One search: where, what, how many."""

    collection: str
    scope: Filter
    text: str | None
    vector: vector_search.Vector | None
    limit: int


def _clamp(x: float) -> float:
    return min(1.0, max(0.0, float(x)))


def _order(hit: Scored) -> tuple[float, float, str]:
    return -hit.score, float(hit.doc.get("created_at") or 0.0), str(hit.doc.get("id"))


def _ranked(hits: list[Scored], limit: int) -> list[Scored]:
    hits.sort(key=_order)
    return hits[:limit]


def fuse(rankings: dict[str, list[Scored]], limit: int, k: int = RRF_K) -> list[Scored]:
    """Reciprocal rank fusion of each signal's ranking, scores divided by the best possible."""
    best = len(rankings) / (k + 1)
    fused: dict[Any, Scored] = {}
    for signal, ranking in rankings.items():
        for rank, hit in enumerate(sorted(ranking, key=_order)):
            entry = fused.setdefault(hit.doc["_id"], Scored(hit.doc, 0.0))
            entry.score += 1.0 / (k + rank + 1)
            entry.signals[signal] = hit.signals[signal]
    for entry in fused.values():
        entry.score = _clamp(entry.score / best)
    return _ranked(list(fused.values()), limit)


def text_hits(q: Query, terms: list[str], pool: int, features: Features) -> Plan[list[Scored]]:
    """Rank by text relevance, with the text index or the BM25 fallback."""
    project = {"$project": result_projection()}
    if features.text.get(q.collection) is Mode.NATIVE:
        rows = yield Aggregate(q.collection, [
            *text_search.native_pipeline(q.scope, terms, pool), project])
        scores = [text_search.squash(r.pop(text_search.SCORE_FIELD, 0.0)) for r in rows]
    else:
        stats_rows = yield Aggregate(q.collection, text_search.stats_pipeline(q.scope, terms))
        stats = text_search.Bm25Stats(stats_rows[0] if stats_rows else None)
        if not stats.df:
            return []
        rows = yield Aggregate(q.collection, [
            *text_search.bm25_pipeline(q.scope, terms, stats, pool), project])
        scores = [text_search.squash(r.pop(text_search.SCORE_FIELD, 0.0)) for r in rows]
    return [Scored(r, s, {"text": s}) for r, s in zip(rows, scores, strict=True)]


def vector_hits(
    q: Query, query: vector_search.Vector, pool: int, features: Features, prefix: str, dim: int
) -> Plan[list[Scored]]:
    """Rank by cosine similarity, with ``$vectorSearch`` or an exact in-scope scan."""
    if features.needs_recheck(q.collection):
        yield from recheck_vector(features, q.collection, prefix, dim)
    project = {"$project": result_projection()}
    if features.vector.get(q.collection) is Mode.NATIVE:
        name = vector_index_name(prefix, q.collection)
        rows = yield Aggregate(q.collection, [
            *vector_search.native_pipeline(name, q.scope, query, pool), project])
        return [Scored(r, s, {"vector": s}) for r in rows
                for s in [_clamp(r.pop(vector_search.SCORE_FIELD, 0.0))]]
    candidates = yield Find(q.collection, q.scope, {"_id": 1, "embedding": 1},
                            OLDEST_FIRST)  # ties: older first
    ids, rows_vec = [], []
    for row in candidates:
        vec = vector_search.decode(row.get("embedding"))
        if vec is not None and vec.shape == query.shape:
            ids.append(row["_id"])
            rows_vec.append(vec)
    if not ids:
        return []
    scores = vector_search.cosine_scores(query, np.vstack(rows_vec))
    best = vector_search.top_k(scores, pool)
    chosen = [ids[i] for i in best]
    docs = yield Find(q.collection, both(q.scope, {"_id": {"$in": chosen}}), result_projection())
    by_id = {d["_id"]: d for d in docs}
    hits = []
    for i in best:
        doc = by_id.get(ids[i])
        if doc is not None:
            s = _clamp(scores[i])
            hits.append(Scored(doc, s, {"vector": s}))
    return hits


def search(q: Query, features: Features, prefix: str, dim: int | None) -> Plan[list[Scored]]:
    """Text and/or vector search; both rankings fused when both are given."""
    if q.text is None and q.vector is None:
        raise ValueError("search needs text, a vector, or both")
    if q.limit < 0:
        raise ValueError("limit must not be negative")
    if q.limit == 0:
        return []
    rankings: dict[str, list[Scored]] = {}
    pool = q.limit if q.text is None or q.vector is None else max(q.limit * 4, FUSION_POOL_MIN)
    if q.text is not None:
        terms = text_search.query_terms(q.text)
        rankings["text"] = (yield from text_hits(q, terms, pool, features)) if terms else []
    if q.vector is not None and dim is not None:
        rankings["vector"] = yield from vector_hits(q, q.vector, pool, features, prefix, dim)
    if len(rankings) == 1:
        return _ranked(next(iter(rankings.values())), q.limit)
    return fuse(rankings, q.limit)
