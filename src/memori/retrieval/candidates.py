"""Fused candidates: an item with a raw score and its per-signal scores, until ranked."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from memori.core import Hit, Memory, Turn

Key = tuple[str, str]
"""``(kind, id)``: a memory and a turn may share an id, never a key."""


@dataclass
class Candidate:
    """One item under consideration; ``score`` is unnormalised until :func:`ranked`.

    ``lent``: the best relevance of the context seeds that lent to it (see
    ``memori.retrieval.relevance``).
    """

    item: Memory | Turn
    score: float = 0.0
    signals: dict[str, float] = field(default_factory=dict)
    lent: float = 0.0

    @property
    def key(self) -> Key:
        return key_of(self.item)


def key_of(item: Memory | Turn) -> Key:
    return ("memory" if isinstance(item, Memory) else "turn", item.id)


def ranked(candidates: Iterable[Candidate], scale: float) -> list[Hit]:
    """Hits best first, scores divided by ``scale`` and clamped into [0, 1].

    Ties go to the newer item, then to the smaller id (a stable, total order).
    """
    return [to_hit(c, scale) for c in best_first(candidates)]


def best_first(candidates: Iterable[Candidate]) -> list[Candidate]:
    """Candidates in :func:`ranked` order."""
    return sorted(candidates, key=lambda c: (-c.score, -c.item.created_at, c.item.id))


def to_hit(candidate: Candidate, scale: float) -> Hit:
    """The candidate as a hit, its score divided by ``scale`` and clamped into [0, 1]."""
    scale = scale if scale > 0 else 1.0
    return Hit(candidate.item, min(1.0, max(0.0, candidate.score / scale)),
               dict(candidate.signals))
