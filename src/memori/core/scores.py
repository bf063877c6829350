"""Search scores every backend shares: every score lies in [0, 1], higher is better."""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from memori.core.cjk import index_tokens, query_tokens

RRF_K = 60
"""The reciprocal-rank-fusion constant (the usual 60)."""
BM25_K1 = 1.2
BM25_B = 0.75
_WORD = re.compile(r"\w+")

T = TypeVar("T")


def cosine_score(cosine: float) -> float:
    """``(1 + cos) / 2`` clamped into [0, 1] (float rounding can step just outside)."""
    if math.isnan(cosine):
        return 0.5
    return min(1.0, max(0.0, (1.0 + cosine) / 2.0))


def relevance_score(relevance: float) -> float:
    """Maps a non-negative relevance (``-bm25``, ``ts_rank``...) into [0, 1) monotonically."""
    if math.isnan(relevance) or relevance <= 0.0:
        return 0.0
    if math.isinf(relevance):
        return 1.0
    return relevance / (1.0 + relevance)


def words(text: str) -> list[str]:
    """The case-folded words of stored ``text`` (Unicode ``\\w+`` runs, CJK runs cut into
    characters and pairs, see ``memori.core.cjk``): what a text query matches, any of
    its :func:`query_words`, case-insensitive; punctuation is never syntax."""
    return index_tokens(w.casefold() for w in _WORD.findall(text))


def query_words(text: str) -> list[str]:
    """The case-folded words of a text query (CJK runs cut into pairs, see
    ``memori.core.cjk``); a stored text matches when its :func:`words` hold any."""
    return query_tokens(w.casefold() for w in _WORD.findall(text))


def bm25_relevance(query: Sequence[str], documents: Sequence[Sequence[str]]) -> list[float]:
    """Okapi BM25 (``k1`` 1.2, ``b`` 0.75) of each document (a list of :func:`words`) for
    the query words, computed over these documents alone; 0 for a document that shares
    no word with the query. :func:`relevance_score` maps it into [0, 1)."""
    if not documents:
        return []
    terms = set(query)
    n = len(documents)
    avg_len = sum(len(d) for d in documents) / n or 1.0
    df = Counter(t for d in documents for t in set(d) if t in terms)
    scores: list[float] = []
    for doc in documents:
        tf = Counter(t for t in doc if t in terms)
        s = 0.0
        for term, freq in tf.items():
            idf = math.log(1.0 + (n - df[term] + 0.5) / (df[term] + 0.5))
            norm = freq + BM25_K1 * (1.0 - BM25_B + BM25_B * len(doc) / avg_len)
            s += idf * freq * (BM25_K1 + 1.0) / norm
        scores.append(s)
    return scores


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity in [-1, 1]; 0 when either vector has zero length (a store
    computing it in Python; :func:`cosine_score` maps it into [0, 1])."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return max(-1.0, min(1.0, dot / (na * nb)))


@dataclass
class Fused(Generic[T]):
    """One fused result: the item, its fused score and the per-signal scores."""

    item: T
    score: float
    signals: dict[str, float] = field(default_factory=dict)


def rrf_fuse(
    rankings: Mapping[str, Sequence[tuple[str, T, float]]], *, limit: int, k: int = RRF_K,
    tiebreak: Callable[[T], Any] | None = None,
) -> list[Fused[T]]:
    """Reciprocal rank fusion of ranked lists of ``(key, item, score)``, best first.

    The fused score is the RRF sum divided by its maximum (first in every list),
    so it lies in [0, 1]; ``signals`` keeps each list's own score. Equal scores
    are ordered by ``tiebreak(item)`` (e.g. age then id), else by key.
    """
    if not rankings:
        return []
    best = len(rankings) / (k + 1)
    fused: dict[str, Fused[T]] = {}
    for signal, ranked in rankings.items():
        for rank, (key, item, score) in enumerate(ranked):
            entry = fused.get(key)
            if entry is None:
                entry = fused[key] = Fused(item, 0.0)
            entry.score += 1.0 / (k + rank + 1)
            entry.signals[signal] = score
    def order(key: str) -> tuple[float, Any]:
        entry = fused[key]
        return (-entry.score, tiebreak(entry.item) if tiebreak is not None else key)

    out = [fused[key] for key in sorted(fused, key=order)[: max(0, limit)]]
    for f in out:
        f.score = min(1.0, f.score / best)
    return out
