"""Required: memories are put, got, listed, paged, counted and deleted exactly as written."""

from __future__ import annotations

from dataclasses import replace

from memori.conformance.base import Ids, raw_count
from memori.conformance.checks import assert_same_memories, assert_same_memory
from memori.conformance.data import fresh, memory, turn, vec
from memori.core import MemoryKind, MemoryStore, Scope


class MemoryCrudTests:
    """Long-term memories keyed by ``(entity_id, id)``: put (insert or replace), get, list."""

    def test_memories_round_trip_every_field(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "coach")
        written = [
            memory(scope, "Goal: sub-25 5K by June.", kind=MemoryKind.GOAL, shared=True,
                   session_id=fresh("s"), updated_at=1_700_000_001.25,
                   last_seen_at=1_700_000_002.5, count=3, source_turn_ids=("t1", "t2"),
                   metadata={"slot": "running_goal", "confidence": 0.9,
                             "nested": {"list": [1, None, "x"]}},
                   embedding=vec(0.5, -0.25, 1)),
            memory(scope, "Ünïcödé ✓ 漢字 🙂 \"q\" 'q' \\ % _", kind="custom-kind"),
            memory(Scope(scope.entity_id), "no persona: every persona sees it"),
        ]
        store.put_memories(written)
        for m in written:
            got = store.get_memory(scope, m.id)
            assert got is not None, f"memory {m.id!r} was not found after put_memories"
            assert_same_memory(got, m)
        assert_same_memories(store.list_memories(scope), written)
        assert store.count_memories(scope) == 3

    def test_put_memories_replaces_the_same_id(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "p")
        m = memory(scope, "first version")
        store.put_memories([m])
        newer = replace(m, content="second version", count=2, metadata={"v": 2})
        store.put_memories([newer])
        got = store.get_memory(scope, m.id)
        assert got is not None
        assert_same_memory(got, newer)
        assert store.count_memories(scope) == 1

    def test_list_memories_pages_oldest_first(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), None)
        written = [memory(scope, f"memory {i}") for i in range(5)]
        store.put_memories(list(reversed(written)))
        listed = [m.id for m in written]
        assert [m.id for m in store.list_memories(scope)] == listed
        assert [m.id for m in store.list_memories(scope, limit=2)] == listed[:2]
        assert [m.id for m in store.list_memories(scope, limit=2, offset=2)] == listed[2:4]
        assert [m.id for m in store.list_memories(scope, limit=2, offset=4)] == listed[4:]
        assert [m.id for m in store.list_memories(scope, offset=3)] == listed[3:]
        assert store.list_memories(scope, offset=5) == []
        assert store.list_memories(scope, limit=0) == []

    def test_delete_memories_counts_what_it_deleted(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "p")
        written = [memory(scope, f"memory {i}") for i in range(3)]
        store.put_memories(written)
        assert store.delete_memories(scope, [written[0].id, written[2].id, fresh("m")]) == 2
        assert [m.id for m in store.list_memories(scope)] == [written[1].id]
        assert store.get_memory(scope, written[0].id) is None
        assert store.delete_memories(scope, []) == 0
        assert store.delete_memories(scope, [written[0].id]) == 0
        assert store.count_memories(scope) == 1

    def test_get_memory_of_an_unknown_id_is_none(self, store: MemoryStore, ids: Ids) -> None:
        assert store.get_memory(Scope(ids.entity(), "p"), fresh("m")) is None

    def test_fresh_scope_starts_empty_on_every_read_path(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        e = ids.entity()
        for scope in (Scope(e), Scope(e, "p"), Scope(e, "p", fresh("s"))):
            assert store.list_turns(scope) == []
            assert store.count_turns(scope) == 0
            assert store.list_memories(scope, include_superseded=True) == []
            assert store.count_memories(scope, include_superseded=True) == 0
            assert store.get_memory(scope, fresh("m")) is None
        assert list(store.export(e)) == []
        assert raw_count(store, e) == 0
        assert all(t.entity_id != e for t in store.outbox_pending(1000))

    def test_memories_and_turns_do_not_share_ids(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "p", fresh("s"))
        t = turn(scope, "a turn")
        store.append_turns([t])
        store.put_memories([replace(memory(scope, "a memory"), id=t.id)])
        assert store.count_turns(scope) == 1
        assert store.count_memories(scope) == 1
        assert store.delete_memories(scope, [t.id]) == 1
        assert store.count_turns(scope) == 1, "deleting a memory removed a turn with its id"
