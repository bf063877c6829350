"""Required: turns are appended, listed, counted and deleted exactly as written."""

from __future__ import annotations

from memori.conformance.base import Ids, raw_count
from memori.conformance.checks import assert_same_turns
from memori.conformance.data import fresh, turn, vec
from memori.core import ExtractState, MemoryStore, Scope


class TurnCrudTests:
    """Conversation history: append, list (oldest first), count, delete."""

    def test_turns_round_trip_every_field(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "coach", fresh("s"))
        written = [
            turn(scope, "Goal: sub-25 5K by June.", metadata={"name": "alice", "n": 3}),
            turn(scope, "", role="assistant", metadata={
                "tool_calls": [{"id": "call_1", "type": "function",
                                "function": {"name": "lookup", "arguments": "{\"q\": 1}"}}],
            }),
            turn(scope, "{\"pace\": \"5:00\"}", role="tool", metadata={"tool_call_id": "call_1"}),
            turn(scope, "Ünïcödé ✓ 漢字 🙂 \"quotes\" 'single' \\ % _ \n\t", role="assistant",
                 metadata={"partial": True, "nested": {"list": [1, 2.5, None, "x"]}}),
            turn(scope, "long " * 4000, extract_state=ExtractState.DONE,
                 extract_attempts=2, extract_error="boom", embedding=vec(1, 2, 3)),
        ]
        store.append_turns(written)
        assert_same_turns(store.list_turns(scope), written)
        assert store.count_turns(scope) == len(written)

    def test_list_turns_is_oldest_first_whatever_the_write_order(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        scope = Scope(ids.entity(), None, fresh("s"))
        t1, t2, t3 = (turn(scope, f"turn {i}") for i in range(3))
        store.append_turns([t3, t1])
        store.append_turns([t2])
        assert [t.id for t in store.list_turns(scope)] == [t1.id, t2.id, t3.id]

    def test_list_turns_limit_keeps_the_most_recent(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "p", fresh("s"))
        written = [turn(scope, f"turn {i}") for i in range(5)]
        store.append_turns(written)
        assert [t.id for t in store.list_turns(scope, limit=2)] == [t.id for t in written[3:]]
        assert [t.id for t in store.list_turns(scope, limit=50)] == [t.id for t in written]
        assert [t.id for t in store.list_turns(scope, limit=len(written) + 2)] == [
            t.id for t in written
        ]
        assert store.list_turns(scope, limit=0) == []

    def test_turns_of_one_session_and_of_every_session(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        e = ids.entity()
        s1, s2 = Scope(e, "p", fresh("s")), Scope(e, "p", fresh("s"))
        a, b, c = turn(s1, "a"), turn(s2, "b"), turn(s1, "c")
        store.append_turns([a, b, c])
        assert [t.id for t in store.list_turns(s1)] == [a.id, c.id]
        assert [t.id for t in store.list_turns(s2)] == [b.id]
        assert [t.id for t in store.list_turns(Scope(e, "p"))] == [a.id, b.id, c.id]
        assert store.count_turns(Scope(e, "p")) == 3

    def test_delete_turns_by_id_then_all(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), None, fresh("s"))
        written = [turn(scope, f"turn {i}") for i in range(4)]
        store.append_turns(written)
        assert store.delete_turns(scope, [written[0].id, written[2].id, fresh("t")]) == 2
        assert [t.id for t in store.list_turns(scope)] == [written[1].id, written[3].id]
        assert store.delete_turns(scope, []) == 0, "an empty id list deletes nothing (not all)"
        assert store.count_turns(scope) == 2
        assert store.delete_turns(scope) == 2
        assert store.list_turns(scope) == []
        assert store.delete_turns(scope) == 0

    def test_empty_writes_are_no_ops(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), None, fresh("s"))
        store.append_turns([])
        store.put_memories([])
        assert store.count_turns(scope) == 0
        assert raw_count(store, scope.entity_id) == 0

    def test_reads_return_copies_the_caller_may_change(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        scope = Scope(ids.entity(), None, fresh("s"))
        metadata = {"tags": ["a"]}
        t = turn(scope, "hello", metadata=metadata)
        store.append_turns([t])
        metadata["tags"].append("changed after the write")
        got = store.list_turns(scope)[0]
        assert dict(got.metadata) == {"tags": ["a"]}
        got.metadata["tags"].append("changed after the read")
        assert dict(store.list_turns(scope)[0].metadata) == {"tags": ["a"]}
