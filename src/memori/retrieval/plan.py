"""Which searches a query needs on a given store: a plan both the sync and async paths run.

Each search is one native call of the store (its text index, its vector
index, or its own hybrid query) and yields one named ranking.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from memori.core import Capability

MEMORY_TEXT = "memory_text"
MEMORY_VECTOR = "memory_vector"
TURN_TEXT = "turn_text"
TURN_VECTOR = "turn_vector"
RECENCY = "recency"
WHEN = "when"
SIGNALS = (MEMORY_TEXT, MEMORY_VECTOR, TURN_TEXT, TURN_VECTOR, RECENCY, WHEN)
"""The names ``HybridRetriever.weights`` accepts."""

VECTOR_SIGNALS = (MEMORY_VECTOR, TURN_VECTOR)


@dataclass(frozen=True)
class Search:
    """One call to the store: ``kind`` is "memory" or "turn"; ``name`` names its ranking."""

    name: str
    kind: str
    text: str | None
    vector: Sequence[float] | None


def needs_vector(weights: Mapping[str, float], caps: frozenset[Capability],
                 include_turns: bool) -> bool:
    """Whether any vector ranking would run (so the query is worth embedding)."""
    if Capability.VECTOR_SEARCH not in caps:
        return False
    return weights.get(MEMORY_VECTOR, 0.0) > 0 or (
        include_turns and weights.get(TURN_VECTOR, 0.0) > 0
    )


def plan_searches(
    weights: Mapping[str, float], caps: frozenset[Capability], *,
    text: str, vector: Sequence[float] | None, include_turns: bool, native_fusion: bool,
) -> tuple[list[Search], dict[str, float]]:
    """The searches to run and the weight of each resulting ranking.

    With ``native_fusion`` on a store that fuses text and vector rankings itself
    (``HYBRID_FUSION``), one hybrid call per kind replaces the two, weighing what
    the two would have weighed together.
    """
    searches: list[Search] = []
    ranking_weights: dict[str, float] = {}
    kinds = [("memory", MEMORY_TEXT, MEMORY_VECTOR)]
    if include_turns:
        kinds.append(("turn", TURN_TEXT, TURN_VECTOR))
    text_ok = Capability.TEXT_SEARCH in caps and bool(text.strip())
    vector_ok = vector is not None and Capability.VECTOR_SEARCH in caps
    for kind, text_name, vector_name in kinds:
        w_text = weights.get(text_name, 0.0) if text_ok else 0.0
        w_vector = weights.get(vector_name, 0.0) if vector_ok else 0.0
        if native_fusion and Capability.HYBRID_FUSION in caps and w_text > 0 and w_vector > 0:
            name = f"{kind}_hybrid"
            searches.append(Search(name, kind, text, vector))
            ranking_weights[name] = w_text + w_vector
            continue
        if w_text > 0:
            searches.append(Search(text_name, kind, text, None))
            ranking_weights[text_name] = w_text
        if w_vector > 0:
            searches.append(Search(vector_name, kind, None, vector))
            ranking_weights[vector_name] = w_vector
    return searches, ranking_weights
