"""Reciprocal rank fusion of several rankings into one, with scores in [0, 1]."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from memori.core import Hit

RRF_K = 60


def _key(hit: Hit) -> tuple[str, str]:
    return (hit.kind, hit.id)


def reciprocal_rank_fusion(
    rankings: Mapping[str, Sequence[Hit]],
    weights: Mapping[str, float] | None = None,
    k: int = RRF_K,
) -> list[Hit]:
    """Fuse named rankings; the score is the weighted RRF sum over the best possible sum.

    An item ranked first by every signal scores 1.0. ``signals`` of each fused
    hit keep the per-signal scores the backends returned.
    """
    weights = weights or {}
    total_weight = sum(weights.get(name, 1.0) for name in rankings) or 1.0
    best = total_weight / (k + 1)
    sums: dict[tuple[str, str], float] = {}
    items: dict[tuple[str, str], Hit] = {}
    signals: dict[tuple[str, str], dict[str, float]] = {}
    for name, hits in rankings.items():
        w = weights.get(name, 1.0)
        for rank, hit in enumerate(hits):
            key = _key(hit)
            sums[key] = sums.get(key, 0.0) + w / (k + rank + 1)
            items.setdefault(key, hit)
            signals.setdefault(key, {})[name] = hit.score
    fused = [
        Hit(items[key].item, min(1.0, s / best), signals[key]) for key, s in sums.items()
    ]
    fused.sort(key=lambda h: (-h.score, -h.item.created_at))
    return fused
