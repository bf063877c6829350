"""Text, vector and hybrid search inside a scope filter, with scores mapped into [0, 1].

- text: the sparse ``text`` vector (BM25 via Qdrant's IDF modifier, IDF computed
  over the entity's own points where the server can), score ``s / (1 + s)``;
- vector: the dense ``dense`` vector (cosine), score ``(1 + cos) / 2``;
- both: one ``query_points`` with two prefetches fused by Qdrant (RRF), score
  divided by its maximum (each ranking adds at most ``1 / k`` with Qdrant's k = 2).

The scope filter is on every prefetch and on the fused query.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from qdrant_client import models

from memori.backends.qdrant.calls import Call
from memori.backends.qdrant.payload import DENSE, TEXT
from memori.backends.qdrant.sparse import query_vector
from memori.core.models import Hit, Memory, Turn
from memori.core.plan_store import Plan
from memori.core.scores import cosine_score, relevance_score
from memori.core.store_rules import check_vector

Decode = Callable[[dict[str, Any], Any], Turn | Memory]
"""Builds the item of a point from its payload and vectors."""
RRF_K = 2
"""Qdrant's reciprocal rank fusion constant: rank r (from 1) adds 1 / (r + k - 1)."""
PREFETCH_FLOOR = 50


def fused_score(rrf: float, rankings: int) -> float:
    return min(1.0, max(0.0, rrf * RRF_K / rankings))


def _fused_pair(rrf: float) -> float:
    return fused_score(rrf, 2)


def _idf(flt: models.Filter, per_entity: bool) -> models.SearchParams | None:
    if not per_entity:
        return None
    return models.SearchParams(idf=models.IdfCorpusParams(corpus=flt))


def search(
    collection: str,
    flt: models.Filter,
    decode: Decode,
    *,
    text: str | None,
    vector: Sequence[float] | None,
    limit: int,
    vector_dim: int | None,
    idf_per_entity: bool,
) -> Plan[list[Hit]]:
    """Hits of ``collection`` inside ``flt``, best first (ties: older, then smaller id).

    Text with no words and no vector gives no hits; ``flt`` is also the IDF corpus.
    """
    if text is None and vector is None:
        raise ValueError("search needs text, a vector, or both")
    dense = check_vector(vector, vector_dim).tolist() if vector is not None else None
    indices, values = query_vector(text) if text else ([], [])
    sparse = models.SparseVector(indices=indices, values=values) if indices else None
    if limit == 0 or (dense is None and sparse is None):
        return []
    kwargs: dict[str, Any] = {
        "collection_name": collection, "query_filter": flt, "limit": limit,
        "with_payload": True, "with_vectors": [DENSE] if vector_dim is not None else False,
    }
    mapping: Callable[[float], float]
    if dense is not None and sparse is not None:
        depth = max(limit * 4, PREFETCH_FLOOR)
        kwargs["prefetch"] = [
            models.Prefetch(query=sparse, using=TEXT, filter=flt, limit=depth,
                            params=_idf(flt, idf_per_entity)),
            models.Prefetch(query=dense, using=DENSE, filter=flt, limit=depth),
        ]
        kwargs["query"] = models.FusionQuery(fusion=models.Fusion.RRF)
        signal, mapping = "fused", _fused_pair
    elif sparse is not None:
        kwargs.update(query=sparse, using=TEXT, search_params=_idf(flt, idf_per_entity))
        signal, mapping = "text", relevance_score
    else:
        kwargs.update(query=dense, using=DENSE)
        signal, mapping = "vector", cosine_score
    response: models.QueryResponse = yield Call("query_points", kwargs)
    hits: list[Hit] = []
    for point in response.points:
        score = mapping(float(point.score))
        if signal == "text" and score <= 0.0:
            continue
        hits.append(Hit(decode(point.payload or {}, point.vector), score, {signal: score}))
    hits.sort(key=lambda h: (-h.score, h.item.created_at, h.item.id))
    return hits
