"""Optional (VECTOR_SEARCH): nearest first, scored ``(1 + cosine) / 2``, dimension checked."""

from __future__ import annotations

import pytest

from memori.conformance.base import Ids, requires
from memori.conformance.checks import SCORE_TOLERANCE, assert_memory_hits, assert_turn_hits
from memori.conformance.data import DIM, basis, fresh, memory, turn, vec
from memori.conformance.scoring import vector_score
from memori.core import Capability, DimensionMismatchError, MemoryStore, Scope

VECTORS = (vec(1), vec(1, 0.2), vec(1, 1), vec(0, 1), vec(-1, 1), vec(-1), vec(0.3, -2, 1))


class VectorSearchTests:
    """Dense vector search over memories and turns."""

    def test_vector_search_is_nearest_first_with_cosine_scores(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        requires(store, Capability.VECTOR_SEARCH)
        scope = Scope(ids.entity(), "p")
        written = [memory(scope, f"memory {i}", embedding=v) for i, v in enumerate(VECTORS)]
        store.put_memories(written)
        query = vec(1, 0.1)
        hits = store.search_memories(scope, vector=query, limit=len(written))
        assert_memory_hits(hits, scope, {m.id for m in written}, limit=len(written))
        want = sorted(written, key=lambda m: -vector_score(query, m.embedding or ()))
        if Capability.NATIVE_VECTOR_INDEX not in store.capabilities:
            assert [h.id for h in hits] == [m.id for m in want]
        assert hits[0].id == want[0].id
        by_id = {m.id: m for m in written}
        for h in hits:
            expected = vector_score(query, by_id[h.id].embedding or ())
            assert h.score == pytest.approx(expected, abs=SCORE_TOLERANCE), (
                f"vector score of {h.id!r} must be (1 + cosine) / 2 = {expected:.4f}"
            )

    def test_vector_search_limit_and_items_without_vectors(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        requires(store, Capability.VECTOR_SEARCH)
        scope = Scope(ids.entity(), None)
        with_vectors = [memory(scope, f"v{i}", embedding=v) for i, v in enumerate(VECTORS)]
        without = memory(scope, "no vector")
        store.put_memories([*with_vectors, without])
        hits = store.search_memories(scope, vector=basis(1), limit=3)
        assert_memory_hits(hits, scope, {m.id for m in with_vectors}, limit=3)
        assert len(hits) == 3
        hits = store.search_memories(scope, vector=basis(1), limit=50)
        assert without.id not in {h.id for h in hits}, "an item with no vector is no vector hit"
        if Capability.NATIVE_VECTOR_INDEX not in store.capabilities:
            assert len(hits) == len(with_vectors)

    def test_vector_search_over_turns(self, store: MemoryStore, ids: Ids) -> None:
        requires(store, Capability.VECTOR_SEARCH)
        scope = Scope(ids.entity(), "p", fresh("s"))
        written = [turn(scope, f"turn {i}", embedding=v) for i, v in enumerate(VECTORS)]
        store.append_turns(written)
        hits = store.search_turns(scope, vector=basis(0), limit=3)
        assert_turn_hits(hits, scope, {t.id for t in written}, limit=3)
        assert [h.id for h in hits][:1] == [written[0].id]
        assert hits[0].score == pytest.approx(1.0, abs=SCORE_TOLERANCE)

    def test_vector_dimension_is_checked(self, store: MemoryStore, ids: Ids) -> None:
        requires(store, Capability.VECTOR_SEARCH)
        assert store.vector_dim == DIM, f"the store was opened with vector_dim={DIM}"
        scope = Scope(ids.entity(), "p", fresh("s"))
        short = tuple([1.0] * (DIM - 1))
        with pytest.raises(DimensionMismatchError):
            store.put_memories([memory(scope, "short", embedding=short)])
        with pytest.raises(DimensionMismatchError):
            store.append_turns([turn(scope, "short", embedding=short)])
        with pytest.raises(DimensionMismatchError):
            store.search_memories(scope, vector=[1.0] * (DIM + 1))
        with pytest.raises(DimensionMismatchError):
            store.search_turns(scope, vector=[1.0] * (DIM + 1))
        assert store.count_memories(scope) == 0 and store.count_turns(scope) == 0
