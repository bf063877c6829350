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
_CJK_RUN = re.compile(
    "[\u1100-\u11ff\u2e80-\u2fdf\u3005-\u3007\u3021-\u3029\u3031-\u3035\u303b\u303c"
    "\u3040-\u30ff\u3100-\u312f\u3130-\u318f\u31a0-\u31bf\u31f0-\u31ff\u3400-\u4dbf"
    "\u4e00-\u9fff\ua960-\ua97f\uac00-\ud7af\ud7b0-\ud7ff\uf900-\ufaff\uff66-\uff9f"
    "\uffa0-\uffdc\U0001b000-\U0001b16f\U00020000-\U0003134f]+"
)
"""Chinese, Japanese and Korean characters: no spaces between words, cut into pairs."""

BM25_K1 = 1.2
BM25_B = 0.75
RRF_K = 60


def _cut(word: str, query: bool) -> list[str]:
    """One word with each CJK run replaced: by its character pairs in a query (the run
    itself when one character long), by its characters and pairs in stored text."""
    out: list[str] = []
    pos = 0
    for m in _CJK_RUN.finditer(word):
        if m.start() > pos:
            out.append(word[pos:m.start()])
        run = m.group(0)
        pairs = [run[i:i + 2] for i in range(len(run) - 1)]
        if query:
            out.extend(pairs or [run])
        else:
            for i, char in enumerate(run):
                out.extend((pairs[i - 1], char) if i else (char,))
        pos = m.end()
    if pos < len(word):
        out.append(word[pos:])
    return out


def words(text: str) -> list[str]:
    """The case-folded words of stored ``text`` (Unicode ``\\w+`` runs; punctuation is never
    syntax), each CJK run cut into its characters and character pairs."""
    return [t for w in _WORD.findall(text) for t in _cut(w.casefold(), False)]


def query_words(text: str) -> list[str]:
    """The case-folded words of a query: each CJK run cut into its character pairs, or
    kept whole when one character long. A text matches when its :func:`words` hold one."""
    return [t for w in _WORD.findall(text) for t in _cut(w.casefold(), True)]


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
