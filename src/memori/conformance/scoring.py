"""Plain scoring rules of the reference store: words, BM25, cosine and rank fusion.

The conformance suite uses :func:`words` too, to decide which items a text
query must match ("any of the query's words, case-insensitive").
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Hashable, Sequence

_WORD = re.compile(r"\w+")

BM25_K1 = 1.2
BM25_B = 0.75
RRF_K = 60


def words(text: str) -> list[str]:
    """The case-folded words of ``text`` (Unicode ``\\w+`` runs); punctuation is never syntax."""
    return [w.casefold() for w in _WORD.findall(text)]


def bm25(query: Sequence[str], documents: Sequence[Sequence[str]]) -> list[float]:
    """BM25 of each document for the query words, squashed into [0, 1) by ``s / (1 + s)``.

    A document that shares no word with the query scores exactly 0.
    """
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
        scores.append(s / (1.0 + s))
    return scores


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity; 0 when either vector has zero length."""
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    na = math.sqrt(sum(x * x for x in a))
    nb = math.sqrt(sum(y * y for y in b))
    if na == 0.0 or nb == 0.0:
        return 0.0
    return max(-1.0, min(1.0, dot / (na * nb)))


def vector_score(a: Sequence[float], b: Sequence[float]) -> float:
    """The contract's vector score: ``(1 + cosine) / 2``, in [0, 1]."""
    return (1.0 + cosine(a, b)) / 2.0


def rrf(rankings: Sequence[Sequence[Hashable]], k: int = RRF_K) -> dict[Hashable, float]:
    """Reciprocal rank fusion normalised to [0, 1]: 1.0 means first in every ranking."""
    if not rankings:
        return {}
    best = len(rankings) / (k + 1)
    fused: dict[Hashable, float] = {}
    for ranking in rankings:
        for rank, key in enumerate(ranking):
            fused[key] = fused.get(key, 0.0) + 1.0 / (k + 1 + rank)
    return {key: score / best for key, score in fused.items()}
