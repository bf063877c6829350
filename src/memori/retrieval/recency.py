"""Recency: a bonus that halves every ``half_life`` seconds of an item's age.

A memory's age counts from the last time it was seen again or changed (it was
current then); a turn's from when it was recorded. The bonus only reorders
items of similar relevance: its weight is small next to the search signals.
"""

from __future__ import annotations

from collections.abc import Iterable

from memori.core import Memory, Turn
from memori.retrieval.candidates import Candidate

DAY = 86_400.0


def last_active(item: Memory | Turn) -> float:
    """When the item was last known current (epoch seconds)."""
    if isinstance(item, Memory):
        return max(item.created_at, item.updated_at or 0.0, item.last_seen_at or 0.0)
    return item.created_at


def decay(age: float, half_life: float) -> float:
    """``2 ** (-age / half_life)`` in (0, 1]; a future timestamp counts as age 0."""
    if half_life <= 0:
        return 0.0
    return float(2.0 ** (-max(0.0, age) / half_life))


def add_recency(
    candidates: Iterable[Candidate], *, now: float, half_life: float, scale: float,
) -> None:
    """Add ``scale * decay(age)`` to each candidate (signal ``recency``: the decay)."""
    if scale <= 0:
        return
    for cand in candidates:
        fresh = decay(now - last_active(cand.item), half_life)
        cand.score += scale * fresh
        cand.signals["recency"] = fresh
