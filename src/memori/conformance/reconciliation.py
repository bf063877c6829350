"""Required: the fields augmentation reconciles (count, last_seen_at, superseded_by).

``update_memory`` changes only ``MEMORY_PATCH_FIELDS`` of a visible memory;
superseded memories are history: left out of list, count and search unless
``include_superseded``, still reachable by id.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from memori.conformance.base import Ids, raw_count, requires
from memori.conformance.checks import assert_same_memory
from memori.conformance.data import basis, fresh, memory, vec
from memori.core import Capability, MemoryStore, Scope


class ReconciliationTests:
    """Merging duplicates and superseding contradicted facts, as the store sees it."""

    def test_update_memory_changes_the_patch_fields(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "coach")
        m = memory(scope, "runs 5K", source_turn_ids=("t1",))
        store.put_memories([m])
        changes: dict[str, Any] = {
            "content": "runs 10K", "kind": "goal", "count": 4, "last_seen_at": 1_700_000_100.5,
            "updated_at": 1_700_000_100.5, "metadata": {"slot": "distance"},
            "source_turn_ids": ("t1", "t2"), "shared": True,
        }
        assert store.update_memory(scope, m.id, changes) is True
        got = store.get_memory(scope, m.id)
        assert got is not None
        assert_same_memory(got, replace(m, **changes))

    def test_update_memory_of_an_unknown_id_is_false(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "p")
        assert store.update_memory(scope, fresh("m"), {"count": 2}) is False
        assert raw_count(store, scope.entity_id) == 0

    @pytest.mark.parametrize("field", ["entity_id", "process_id", "id", "created_at", "bogus"])
    def test_update_memory_refuses_other_fields(
        self, store: MemoryStore, ids: Ids, field: str
    ) -> None:
        scope = Scope(ids.entity(), "p")
        m = memory(scope, "kept as is")
        store.put_memories([m])
        with pytest.raises(ValueError):
            store.update_memory(scope, m.id, {field: "x", "count": 9})
        got = store.get_memory(scope, m.id)
        assert got is not None
        assert_same_memory(got, m)

    def test_superseded_memories_are_history(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "coach")
        old, new = memory(scope, "goal: falcon 5K"), memory(scope, "goal: falcon 10K")
        store.put_memories([old, new])
        assert store.update_memory(scope, old.id, {"superseded_by": new.id}) is True
        assert [m.id for m in store.list_memories(scope)] == [new.id]
        assert [m.id for m in store.list_memories(scope, include_superseded=True)] == [
            old.id, new.id,
        ]
        assert store.count_memories(scope) == 1
        assert store.count_memories(scope, include_superseded=True) == 2
        got = store.get_memory(scope, old.id)
        assert got is not None and got.superseded_by == new.id, (
            "get_memory finds a superseded memory by id (reconciliation checks ids with it)"
        )
        assert store.update_memory(scope, old.id, {"superseded_by": None}) is True
        assert store.count_memories(scope) == 2

    def test_search_leaves_superseded_memories_out(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "coach")
        old = memory(scope, "falcon pace 5:30", embedding=basis(0),
                     superseded_by="newer")
        new = replace(memory(scope, "falcon pace 5:00", embedding=vec(1, 0.1)), id="newer")
        store.put_memories([old, new])
        queries: list[dict[str, Any]] = []
        if Capability.TEXT_SEARCH in store.capabilities:
            queries.append({"text": "falcon"})
        if Capability.VECTOR_SEARCH in store.capabilities:
            queries.append({"vector": basis(0)})
        if not queries:
            requires(store, Capability.TEXT_SEARCH)
        for q in queries:
            current = store.search_memories(scope, limit=10, **q)
            history = store.search_memories(scope, limit=10, include_superseded=True, **q)
            assert [h.id for h in current] == ["newer"], f"search {q} returned history"
            assert {h.id for h in history} == {old.id, "newer"}, f"search {q} lost history"

    def test_merging_a_duplicate_bumps_count_and_last_seen(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        scope = Scope(ids.entity(), "coach")
        m = memory(scope, "likes tempo runs", source_turn_ids=("t1",))
        store.put_memories([m])
        for n in (2, 3):
            current = store.get_memory(scope, m.id)
            assert current is not None
            assert store.update_memory(scope, m.id, {
                "count": current.count + 1, "last_seen_at": 1_700_000_000.0 + n,
                "source_turn_ids": (*current.source_turn_ids, f"t{n}"),
            })
        got = store.get_memory(scope, m.id)
        assert got is not None
        assert got.count == 3
        assert got.last_seen_at == pytest.approx(1_700_000_003.0, abs=1e-3)
        assert tuple(got.source_turn_ids) == ("t1", "t2", "t3")
        assert got.content == m.content

    def test_updated_content_and_vector_are_searched(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "p")
        m = memory(scope, "zebra", embedding=basis(0))
        other = memory(scope, "quartz", embedding=basis(1))
        store.put_memories([m, other])
        changes: dict[str, Any] = {"content": "violin"}
        if Capability.VECTOR_SEARCH in store.capabilities:
            changes["embedding"] = basis(2)
        assert store.update_memory(scope, m.id, changes)
        if Capability.TEXT_SEARCH in store.capabilities:
            assert store.search_memories(scope, text="zebra") == []
            assert [h.id for h in store.search_memories(scope, text="violin")] == [m.id]
        if Capability.VECTOR_SEARCH in store.capabilities:
            top = store.search_memories(scope, vector=basis(2), limit=1)
            assert [h.id for h in top] == [m.id]
