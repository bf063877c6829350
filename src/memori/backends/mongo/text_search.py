"""Text relevance: the server's text index where it exists, BM25 over stored terms otherwise.

Words are runs of Unicode word characters, case-folded. Every document carries ``terms``
(its distinct words), ``term_freqs`` (how often each occurs) and ``term_total``
(its length in words). The fallback ranks with Okapi BM25 over the documents of
the scope, computed by the server in an aggregation pipeline so that only the
top hits travel; the multikey index ``(entity_id, terms)`` finds the candidates.
Query words enter pipelines only through ``$literal`` and ``$in`` values. Both
paths map their relevance into [0, 1) with ``core.scores.relevance_score``.

Chinese, Japanese and Korean runs (``memori.core.cjk``): ``terms`` hold each of their
characters and character pairs, a query their pairs (its lone character for a run
of one). The server's text index cannot cut unspaced text, so a query holding CJK
words is ranked by the BM25 path over ``terms`` even where the text index exists.
Setup steps 7 and 8 (``schema.py``) derive the fields of documents written before
this rule again.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping
from typing import Any

from memori.backends.mongo.filters import Filter
from memori.core.cjk import has_cjk
from memori.core.query_terms import bounded_terms
from memori.core.scores import query_words, words

MAX_QUERY_TERMS = 32
"""Words searched for (bounds the pipeline's size): past this many, the content words
of the query's end (see ``memori.core.query_terms``)."""
BM25_K1 = 1.2
BM25_B = 0.75
SCORE_FIELD = "_memori_score"


def tokenize(text: str) -> list[str]:
    """The case-folded words of stored ``text``, in order (duplicates kept), CJK runs cut
    into characters and pairs (``memori.core.scores.words``)."""
    return words(text)


def query_terms(text: str) -> list[str]:
    """The distinct words of a query (CJK runs cut into pairs), at most
    :data:`MAX_QUERY_TERMS` (a longer query keeps the content words of its end)."""
    return bounded_terms(query_words(text), MAX_QUERY_TERMS)


def needs_terms(terms: list[str]) -> bool:
    """Whether the query words hold CJK ones, which only the BM25 path over ``terms`` finds."""
    return any(has_cjk(t) for t in terms)


def term_fields(content: str) -> dict[str, Any]:
    """The derived fields a document stores for text search."""
    counts = Counter(tokenize(content))
    return {
        "terms": list(counts),
        "term_freqs": list(counts.values()),
        "term_total": sum(counts.values()),
    }


def native_pipeline(scope: Filter, terms: list[str], limit: int) -> list[dict[str, Any]]:
    """Rank with the server's text index: ``$text`` over the query's words only.

    Joining the extracted words with spaces keeps the search string free of
    phrases (``"..."``) and negations (``-word``), so no query is a syntax error.
    The scope's equalities sit at the top level, where the compound text index
    ``(entity_id, content)`` requires its prefix.
    """
    return [
        {"$match": {**scope, "$text": {"$search": " ".join(terms)}}},
        {"$addFields": {SCORE_FIELD: {"$meta": "textScore"}}},
        {"$sort": {SCORE_FIELD: -1, "created_at": 1, "id": 1}},
        {"$limit": limit},
    ]


def stats_pipeline(scope: Filter, terms: list[str]) -> list[dict[str, Any]]:
    """Collection statistics BM25 needs, for the scope: size, mean length, document frequencies."""
    return [
        {"$match": scope},
        {"$facet": {
            "size": [{"$count": "n"}],
            "length": [{"$group": {"_id": None, "mean": {"$avg": "$term_total"}}}],
            "df": [
                {"$match": {"terms": {"$in": terms}}},
                {"$project": {"t": {"$setIntersection": ["$terms", {"$literal": terms}]}}},
                {"$unwind": "$t"},
                {"$group": {"_id": "$t", "n": {"$sum": 1}}},
            ],
        }},
    ]


class Bm25Stats:
    """The figures read back from :func:`stats_pipeline`."""

    def __init__(self, row: Mapping[str, Any] | None) -> None:
        row = row or {}
        size = row.get("size") or [{}]
        length = row.get("length") or [{}]
        self.size = int(size[0].get("n", 0))
        self.mean_length = float(length[0].get("mean") or 1.0) or 1.0
        self.df = {str(d["_id"]): int(d["n"]) for d in row.get("df") or []}

    def idf(self, term: str) -> float:
        df = self.df.get(term, 0)
        return math.log(1.0 + (self.size - df + 0.5) / (df + 0.5))


def bm25_pipeline(
    scope: Filter, terms: list[str], stats: Bm25Stats, limit: int
) -> list[dict[str, Any]]:
    """Score the scope's candidates with BM25 on the server (raw, unbounded scores).

    A term's contribution is ``idf * tf * (k1 + 1) / (tf + k1 * norm)`` with
    ``norm = 1 - b + b * length / mean_length``, the statistics being those of the
    documents inside the scope.
    """
    present = [t for t in terms if stats.df.get(t)]
    norm = {"$add": [1.0 - BM25_B, {"$multiply": [
        BM25_B, {"$divide": [{"$ifNull": ["$term_total", 0]}, stats.mean_length]},
    ]}]}
    parts = []
    for term in present:
        tf = {"$let": {
            "vars": {"i": {"$indexOfArray": [{"$ifNull": ["$terms", []]}, {"$literal": term}]}},
            "in": {"$cond": [{"$gte": ["$$i", 0]}, {"$arrayElemAt": ["$term_freqs", "$$i"]}, 0]},
        }}
        weight = stats.idf(term) * (BM25_K1 + 1.0)
        parts.append({"$let": {"vars": {"tf": tf}, "in": {"$divide": [
            {"$multiply": [weight, "$$tf"]},
            {"$add": ["$$tf", {"$multiply": [BM25_K1, norm]}]},
        ]}}})
    return [
        {"$match": {**scope, "terms": {"$in": present}}},
        {"$addFields": {SCORE_FIELD: {"$add": parts}}},
        {"$sort": {SCORE_FIELD: -1, "created_at": 1, "id": 1}},
        {"$limit": limit},
    ]
