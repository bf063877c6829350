"""Sparse text vectors built by memori itself: hashed bag of words, BM25 weights.

No model and no vocabulary: each lower-cased word token is hashed (blake2b, a
stable hash, unlike Python's ``hash``) into a 2**31 index space. Documents carry
BM25's saturated term frequency; queries carry 1.0 per distinct word. The
collection's sparse vector uses Qdrant's IDF modifier, so the server's dot product
is BM25: sum over shared words of idf * tf-part. Document length normalisation
uses a fixed average length (``avg_len``) because the corpus is never seen whole.

Chinese, Japanese and Korean runs (``memori.core.cjk``): a document's vector holds
each of their characters and character pairs, a query's their pairs (its lone
character for a run of one). Setup step 2 (``schema.py``) writes the vectors of
points written before this rule again.
"""

from __future__ import annotations

from collections import Counter
from functools import lru_cache
from hashlib import blake2b

from memori.core.query_terms import bounded_terms
from memori.core.scores import query_words, words

INDEX_SPACE = 2**31
"""Sparse indices lie in [0, 2**31): fits Qdrant's u32 and signed 32-bit clients."""
K1 = 1.2
B = 0.75
AVG_LEN = 32.0
"""Assumed average document length in words (memories and chat turns are short)."""
MAX_QUERY_WORDS = 64
"""Words of a query searched for: past this many, the content words of its end
(bounds the sparse query; see ``memori.core.query_terms``)."""

_HASH_PERSON = b"memori-bow-v1"


@lru_cache(maxsize=65536)
def word_index(word: str) -> int:
    """The stable sparse index of a word."""
    digest = blake2b(word.encode("utf-8"), digest_size=8, person=_HASH_PERSON).digest()
    return int.from_bytes(digest, "big") % INDEX_SPACE


def _merge(weights: dict[int, float]) -> tuple[list[int], list[float]]:
    indices = sorted(weights)
    return indices, [weights[i] for i in indices]


def document_vector(text: str, *, avg_len: float = AVG_LEN) -> tuple[list[int], list[float]]:
    """(indices, values) of a stored text; both empty when it has no words."""
    tokens = words(text)
    if not tokens:
        return [], []
    norm = K1 * (1.0 - B + B * len(tokens) / avg_len)
    weights: dict[int, float] = {}
    for word, tf in Counter(tokens).items():
        index = word_index(word)
        # Two words hashing to one index add up, as the same word would.
        weights[index] = weights.get(index, 0.0) + tf * (K1 + 1.0) / (tf + norm)
    return _merge(weights)


def query_vector(text: str) -> tuple[list[int], list[float]]:
    """(indices, values) of a query: each distinct word once, a long query's last
    :data:`MAX_QUERY_WORDS` content words; empty when it has no words."""
    return _merge({word_index(w): 1.0 for w in bounded_terms(query_words(text), MAX_QUERY_WORDS)})
