"""The default retriever: dense + full-text + recency over memories and turns, fused by RRF."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

from memori.core import Capability, Embedder, Hit, MemoryStore, Scope
from memori.retrieval.fusion import reciprocal_rank_fusion
from memori.retrieval.tokens import count_tokens

log = logging.getLogger("memori.retrieval")


@dataclass
class HybridRetriever:
    """Ranks what a scope may see for a query.

    Each signal (memory text, memory vector, turn text, turn vector, recency)
    is a ranking; reciprocal rank fusion merges them. ``candidates`` is how deep
    each signal looks; ``weights`` tune the signals; ``include_turns`` adds raw
    conversation turns of the entity and persona (every session) to the pool.
    """

    embedder: Embedder | None = None
    candidates: int = 40
    include_turns: bool = True
    weights: dict[str, float] = field(
        default_factory=lambda: {
            "memory_text": 1.0, "memory_vector": 1.0,
            "turn_text": 0.8, "turn_vector": 0.8, "recency": 0.2,
        }
    )

    def query_vector(self, store: MemoryStore, query: str) -> list[float] | None:
        if self.embedder is None or Capability.VECTOR_SEARCH not in store.capabilities:
            return None
        return self.embedder.embed([query])[0]

    def retrieve(
        self, store: MemoryStore, scope: Scope, query: str, *,
        limit: int = 10, token_budget: int | None = None,
        include_history: bool = False, vector: Sequence[float] | None = None,
    ) -> list[Hit]:
        if vector is None:
            vector = self.query_vector(store, query)
        rankings = self.rankings(store, scope, query, vector, include_history)
        fused = reciprocal_rank_fusion(rankings, self.weights)
        return select_within_budget(fused, limit, token_budget)

    def rankings(
        self, store: MemoryStore, scope: Scope, query: str,
        vector: Sequence[float] | None, include_history: bool,
    ) -> dict[str, list[Hit]]:
        n = max(self.candidates, 1)
        caps = store.capabilities
        out: dict[str, list[Hit]] = {}
        text_ok = Capability.TEXT_SEARCH in caps and query.strip()
        if text_ok:
            out["memory_text"] = store.search_memories(
                scope, text=query, limit=n, include_superseded=include_history
            )
        if vector is not None:
            out["memory_vector"] = store.search_memories(
                scope, vector=vector, limit=n, include_superseded=include_history
            )
        if self.include_turns:
            turn_scope = scope.with_session(None)
            if text_ok:
                out["turn_text"] = store.search_turns(turn_scope, text=query, limit=n)
            if vector is not None:
                out["turn_vector"] = store.search_turns(turn_scope, vector=vector, limit=n)
        pool = {(h.kind, h.id): h for hits in out.values() for h in hits}
        if pool:
            out["recency"] = sorted(pool.values(), key=lambda h: -h.item.created_at)
        return out


def select_within_budget(hits: Sequence[Hit], limit: int, token_budget: int | None) -> list[Hit]:
    """The best ``limit`` hits whose contents fit in ``token_budget`` tokens together."""
    chosen: list[Hit] = []
    used = 0
    for hit in hits:
        if len(chosen) >= limit:
            break
        cost = count_tokens(hit.content)
        if token_budget is not None and used + cost > token_budget:
            continue
        chosen.append(hit)
        used += cost
    return chosen
