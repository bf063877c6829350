"""Search plans: text, vector, or both fused, always inside the scope filter.

With both a text and a vector query, each side ranks a pool of candidates and
the two rankings are fused by reciprocal rank fusion (``core.scores.rrf_fuse``),
normalised so that first in both rankings scores 1.0. Ties go to the older item,
then the smaller id.
"""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from typing import Any

import numpy as np

from memori.backends.mongo import text_search, vector_search
from memori.backends.mongo.documents import result_projection
from memori.backends.mongo.features import Features, Mode, recheck_vector, vector_index_name
from memori.backends.mongo.filters import Filter, both
from memori.backends.mongo.ops import Aggregate, Find
from memori.core.plan_store import Plan
from memori.core.scores import Fused, cosine_score, relevance_score, rrf_fuse

OLDEST_FIRST = (("created_at", 1), ("id", 1))
FUSION_POOL_MIN = 100
"""Candidates each side brings to a fused search, at least."""

Doc = dict[str, Any]
Ranked = list[tuple[Doc, float]]
"""Documents with their score in [0, 1]."""


@dataclass(frozen=True)
class Query:
    """One search: where, what, how many."""

    collection: str
    scope: Filter
    text: str | None
    vector: array[float] | None
    """Checked by ``store_rules.check_vector`` (float32)."""
    limit: int


def _older_then_id(doc: Doc) -> tuple[float, str]:
    return float(doc.get("created_at") or 0.0), str(doc.get("id"))


def _best_first(ranked: Ranked) -> Ranked:
    return sorted(ranked, key=lambda hit: (-hit[1], *_older_then_id(hit[0])))


def text_hits(q: Query, terms: list[str], pool: int, features: Features) -> Plan[Ranked]:
    """Rank by text relevance, with the text index or the BM25 fallback."""
    project = {"$project": result_projection()}
    native = features.text.get(q.collection) is Mode.NATIVE
    if native and not text_search.needs_terms(terms):
        rows = yield Aggregate(q.collection, [
            *text_search.native_pipeline(q.scope, terms, pool), project])
    else:
        stats_rows = yield Aggregate(q.collection, text_search.stats_pipeline(q.scope, terms))
        stats = text_search.Bm25Stats(stats_rows[0] if stats_rows else None)
        if not stats.df:
            return []
        rows = yield Aggregate(q.collection, [
            *text_search.bm25_pipeline(q.scope, terms, stats, pool), project])
    return [(r, relevance_score(r.pop(text_search.SCORE_FIELD, 0.0))) for r in rows]


def vector_hits(
    q: Query, query: vector_search.Vector, pool: int, features: Features, prefix: str, dim: int
) -> Plan[Ranked]:
    """Rank by cosine similarity, with ``$vectorSearch`` or an exact in-scope scan."""
    if features.needs_recheck(q.collection):
        yield from recheck_vector(features, q.collection, prefix, dim)
    project = {"$project": result_projection()}
    if features.vector.get(q.collection) is Mode.NATIVE:
        name = vector_index_name(prefix, q.collection)
        rows = yield Aggregate(q.collection, [
            *vector_search.native_pipeline(name, q.scope, query, pool), project])
        # $vectorSearch reports (1 + cosine) / 2 for a cosine index
        return [(r, cosine_score(2.0 * r.pop(vector_search.SCORE_FIELD, 0.0) - 1.0))
                for r in rows]
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
    cosines = vector_search.cosines(query, np.vstack(rows_vec))
    best = vector_search.top_k(cosines, pool)
    docs = yield Find(q.collection, both(q.scope, {"_id": {"$in": [ids[i] for i in best]}}),
                      result_projection())
    by_id = {d["_id"]: d for d in docs}
    return [(by_id[ids[i]], cosine_score(float(cosines[i]))) for i in best if ids[i] in by_id]


def search(q: Query, features: Features, prefix: str, dim: int | None) -> Plan[list[Fused[Doc]]]:
    """Text and/or vector search; both rankings fused when both are given."""
    if q.text is None and q.vector is None:
        raise ValueError("search needs text, a vector, or both")
    if q.limit == 0:
        return []
    rankings: dict[str, Ranked] = {}
    pool = q.limit if q.text is None or q.vector is None else max(q.limit * 4, FUSION_POOL_MIN)
    if q.text is not None:
        terms = text_search.query_terms(q.text)
        rankings["text"] = (yield from text_hits(q, terms, pool, features)) if terms else []
    if q.vector is not None and dim is not None:
        query = np.frombuffer(q.vector, dtype=np.float32)
        rankings["vector"] = yield from vector_hits(q, query, pool, features, prefix, dim)
    if len(rankings) == 1:
        ((signal, ranked),) = rankings.items()
        return [Fused(doc, s, {signal: s}) for doc, s in _best_first(ranked)[: q.limit]]
    return rrf_fuse(
        {signal: [(str(doc["_id"]), doc, s) for doc, s in _best_first(ranked)]
         for signal, ranked in rankings.items()},
        limit=q.limit, tiebreak=_older_then_id,
    )
