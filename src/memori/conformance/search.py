"""Required: every search the store declares is ordered best first and scored in [0, 1]."""

from __future__ import annotations

from memori.conformance.base import Ids, search_modes
from memori.conformance.checks import assert_ranked
from memori.conformance.data import basis, fresh, memory, turn, vec
from memori.core import Capability, MemoryStore, Scope

CORPUS = (
    ("zebra quartz violin", vec(1, 0.1)),
    ("zebra quartz", vec(1, 0.5)),
    ("zebra", vec(1, 1)),
    ("zebra mango", vec(0.2, 1)),
    ("quartz", vec(0, 1, 1)),
    ("zebra zebra tundra", vec(-1, 0.3)),
    ("copper nectar", vec(-1, -1)),
)
"""Texts and vectors of varied relevance to the query "zebra quartz violin" / axis 0."""


class SearchOrderingTests:
    """The part of search every backend honours, whatever its ranking function."""

    def test_store_declares_a_search_capability(self, store: MemoryStore) -> None:
        caps = store.capabilities
        assert isinstance(caps, frozenset), "capabilities must be a frozenset"
        assert all(isinstance(c, Capability) for c in caps), f"not all Capability: {caps}"
        assert caps & {Capability.TEXT_SEARCH, Capability.VECTOR_SEARCH}, (
            "a store must offer text search, vector search or both (recall needs one)"
        )

    def test_memory_search_is_ordered_and_scored_in_range(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        scope = Scope(ids.entity(), "p")
        store.put_memories([memory(scope, text, embedding=v) for text, v in CORPUS])
        for kwargs in search_modes(store, "zebra quartz violin", basis(0)):
            for limit in (1, 3, 20):
                hits = store.search_memories(scope, limit=limit, **kwargs)
                assert_ranked(hits, limit)
                assert hits, f"search {kwargs} found nothing"
                if limit <= 3:
                    assert len(hits) == limit, f"search {kwargs} limit={limit}: {len(hits)} hits"

    def test_turn_search_is_ordered_and_scored_in_range(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        scope = Scope(ids.entity(), None, fresh("s"))
        store.append_turns([turn(scope, text, embedding=v) for text, v in CORPUS])
        for kwargs in search_modes(store, "zebra quartz violin", basis(0)):
            for limit in (1, 3, 20):
                hits = store.search_turns(scope, limit=limit, **kwargs)
                assert_ranked(hits, limit)
                assert hits, f"search {kwargs} found nothing"
                if limit <= 3:
                    assert len(hits) == limit, f"search {kwargs} limit={limit}: {len(hits)} hits"

    def test_search_of_an_empty_scope_is_empty(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "p", fresh("s"))
        for kwargs in search_modes(store, "zebra", basis(0)):
            assert store.search_memories(scope, **kwargs) == []
            assert store.search_turns(scope, **kwargs) == []
