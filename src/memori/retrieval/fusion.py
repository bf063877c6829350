"""Weighted reciprocal rank fusion of several rankings into scored candidates.

Rank ``r`` (from 0) of a ranking with weight ``w`` adds ``w / (k + r + 1)``.
A small ``k`` lets the first places of a ranking count much more than the
tenth; 60 (the textbook value) flattens them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from memori.core import Hit, Memory
from memori.retrieval.candidates import Candidate, Key, ranked

RRF_K = 60
"""The textbook constant; the hybrid retriever uses its own, smaller, default."""


def rrf_best(weights: Mapping[str, float], names: Sequence[str], k: int) -> float:
    """The largest possible fused score: first place in every named ranking."""
    return sum(weights.get(name, 0.0) for name in names) / (k + 1)


def fuse(
    rankings: Mapping[str, Sequence[Hit]], weights: Mapping[str, float], k: int,
) -> dict[Key, Candidate]:
    """Candidates keyed by (kind, id) with their weighted RRF sums.

    A ranking whose weight is missing or not positive adds nothing. ``signals``
    keep each ranking's own score for the item.
    """
    out: dict[Key, Candidate] = {}
    for name, hits in rankings.items():
        weight = weights.get(name, 0.0)
        if weight <= 0:
            continue
        for rank, hit in enumerate(hits, k + 1):
            item = hit.item
            key = ("memory" if isinstance(item, Memory) else "turn", item.id)
            cand = out.get(key)
            if cand is None:
                cand = out[key] = Candidate(item)
            cand.score += weight / rank
            cand.signals[name] = hit.score
    return out


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[Hit]],
    weights: Mapping[str, float] | None = None,
    k: int = RRF_K,
) -> list[Hit]:
    """Fuse named rankings into hits; an item first in every ranking scores 1.0.

    Without ``weights`` every ranking weighs 1.
    """
    w = dict(weights) if weights is not None else dict.fromkeys(rankings, 1.0)
    return ranked(fuse(rankings, w, k).values(), rrf_best(w, list(rankings), k))
