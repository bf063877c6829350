"""Optional (TEXT_SEARCH + VECTOR_SEARCH): text and vector together are fused into one ranking."""

from __future__ import annotations

from memori.conformance.base import Ids, requires
from memori.conformance.checks import assert_memory_hits, assert_turn_hits
from memori.conformance.data import basis, fresh, memory, turn, vec
from memori.core import Capability, MemoryStore, Scope


class HybridSearchTests:
    """Search with both ``text`` and ``vector``."""

    def test_best_in_both_rankings_comes_first(self, store: MemoryStore, ids: Ids) -> None:
        requires(store, Capability.TEXT_SEARCH, Capability.VECTOR_SEARCH)
        scope = Scope(ids.entity(), "p")
        both = memory(scope, "zebra quartz", embedding=basis(0))
        text_only = memory(scope, "zebra", embedding=basis(3))
        vector_only = memory(scope, "copper", embedding=vec(1, 0.3))
        neither = memory(scope, "nectar", embedding=vec(-1, 0.1))
        written = [text_only, vector_only, neither, both]
        store.put_memories(written)
        hits = store.search_memories(scope, text="zebra quartz", vector=basis(0), limit=10)
        assert_memory_hits(hits, scope, {m.id for m in written}, limit=10)
        assert hits[0].id == both.id, "an item first in both rankings is first when fused"
        found = {h.id for h in hits}
        assert {text_only.id, vector_only.id} <= found, "fusion keeps hits of either signal"

    def test_hybrid_search_over_turns(self, store: MemoryStore, ids: Ids) -> None:
        requires(store, Capability.TEXT_SEARCH, Capability.VECTOR_SEARCH)
        scope = Scope(ids.entity(), None, fresh("s"))
        both = turn(scope, "violin mango", embedding=basis(1))
        others = [turn(scope, "violin", embedding=basis(2)), turn(scope, "tundra",
                                                                 embedding=vec(0.2, 1))]
        store.append_turns([*others, both])
        hits = store.search_turns(scope, text="violin mango", vector=basis(1), limit=2)
        assert_turn_hits(hits, scope, {both.id, *(t.id for t in others)}, limit=2)
        assert hits[0].id == both.id

    def test_wordless_text_with_a_vector_ranks_by_the_vector(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        requires(store, Capability.TEXT_SEARCH, Capability.VECTOR_SEARCH)
        scope = Scope(ids.entity(), "p", fresh("s"))
        near, far = basis(0), vec(-1, 0.2)
        memories = [memory(scope, "zebra", embedding=far), memory(scope, "quartz",
                                                                 embedding=near)]
        turns = [turn(scope, "zebra", embedding=far), turn(scope, "quartz", embedding=near)]
        store.put_memories(memories)
        store.append_turns(turns)
        for query in ("%", "", "'\"*"):
            hits = store.search_memories(scope, text=query, vector=basis(0), limit=5)
            assert_memory_hits(hits, scope, {m.id for m in memories}, limit=5)
            assert [h.id for h in hits][:1] == [memories[1].id], f"text {query!r} + vector"
            turn_hits = store.search_turns(scope, text=query, vector=basis(0), limit=5)
            assert_turn_hits(turn_hits, scope, {t.id for t in turns}, limit=5)
            assert [h.id for h in turn_hits][:1] == [turns[1].id], f"text {query!r} + vector"
