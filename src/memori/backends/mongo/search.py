"""Search plans: text, vector, or both fused, always inside the scope filter.

With both a text and a vector query, each side contributes a pool of
candidates; every candidate then gets both signals (its vector score is
computed from its stored vector when only the text side found it) and the
fused score is their mean, so it stays in [0, 1].
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

FUSION_POOL_MIN = 50
"""Candidates each side brings to a fused search, at least."""


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


def _ranked(hits: list[Scored], limit: int) -> list[Scored]:
    hits.sort(key=lambda h: (-h.score, -float(h.doc.get("created_at") or 0.0)))
    return hits[:limit]


def text_hits(q: Query, terms: list[str], pool: int, features: Features) -> Plan[list[Scored]]:
    """Rank by text relevance, with the text index or the BM25 fallback."""
    project = {"$project": result_projection()}
    if features.text.get(q.collection) is Mode.NATIVE:
        rows = yield Aggregate(q.collection, [
            *text_search.native_pipeline(q.scope, terms, pool), project])
        scores = [text_search.native_score(r.pop(text_search.SCORE_FIELD, 0.0)) for r in rows]
    else:
        stats_rows = yield Aggregate(q.collection, text_search.stats_pipeline(q.scope, terms))
        stats = text_search.Bm25Stats(stats_rows[0] if stats_rows else None)
        if not stats.df:
            return []
        rows = yield Aggregate(q.collection, [
            *text_search.bm25_pipeline(q.scope, terms, stats, pool), project])
        scores = [_clamp(r.pop(text_search.SCORE_FIELD, 0.0)) for r in rows]
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
    candidates = yield Find(q.collection, both(q.scope, {"embedding": {"$ne": None}}),
                            {"_id": 1, "embedding": 1})
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
    """Text and/or vector search; fused when both are given."""
    if q.limit <= 0:
        return []
    terms = text_search.query_terms(q.text) if q.text is not None else []
    if q.vector is None or dim is None:
        if not terms:
            return []
        return _ranked((yield from text_hits(q, terms, q.limit, features)), q.limit)
    if not terms:
        return _ranked((yield from vector_hits(q, q.vector, q.limit, features, prefix, dim)),
                       q.limit)
    pool = max(q.limit * 4, FUSION_POOL_MIN)
    by_text = yield from text_hits(q, terms, pool, features)
    by_vector = yield from vector_hits(q, q.vector, pool, features, prefix, dim)
    fused: dict[Any, Scored] = {}
    for hit in by_text:
        fused[hit.doc["_id"]] = Scored(hit.doc, 0.0, {"text": hit.signals["text"]})
    for hit in by_vector:
        entry = fused.setdefault(hit.doc["_id"], Scored(hit.doc, 0.0, {"text": 0.0}))
        entry.signals["vector"] = hit.signals["vector"]
    for entry in fused.values():
        if "vector" not in entry.signals:
            vec = vector_search.decode(entry.doc.get("embedding"))
            entry.signals["vector"] = vector_search.score_one(q.vector, vec)
        entry.score = _clamp((entry.signals["text"] + entry.signals["vector"]) / 2.0)
    return _ranked(list(fused.values()), q.limit)
