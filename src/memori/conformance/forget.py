"""Isolation: ``forget(E)`` removes every trace of E and nothing of anyone else.

"Every trace" is checked with ``raw_count``, the backend's count of rows,
documents or points of the entity in every table or collection (indexes, text
tables and the outbox included), so a row no read path shows is still found.
A store without that conformance-only hook is counted through ``scan`` instead
(a weaker check; the run warns ``WeakerForgetCheck``).
"""

from __future__ import annotations

from dataclasses import replace

from memori.conformance.base import Ids, raw_count
from memori.conformance.data import fresh, hostile_ids, memory, turn, vec
from memori.conformance.guard import isolation
from memori.conformance.worlds import attempt, look_alikes, neighbours_of, searches
from memori.core import ExtractState, Memory, MemoryStore, Scope, Turn


def _everything(entity_id: str, persona: str) -> tuple[list[Turn], list[Memory]]:
    """Turns and memories of every kind and state, for one entity."""
    turns: list[Turn] = []
    for p in (None, persona):
        for s in ("s1", "s2"):
            scope = Scope(entity_id, p, s)
            turns += [
                turn(scope, "falcon pending", embedding=vec(1, 0.5)),
                turn(scope, "falcon done", role="assistant", extract_state=ExtractState.DONE),
                turn(scope, "falcon parked", extract_state=ExtractState.PARKED,
                     extract_attempts=5, extract_error="boom"),
            ]
    newest = memory(Scope(entity_id, persona), "falcon newest", embedding=vec(1, 1))
    memories = [
        memory(Scope(entity_id), "falcon open", embedding=vec(1)),
        memory(Scope(entity_id, persona), "falcon own"),
        memory(Scope(entity_id, persona), "falcon shared", shared=True, embedding=vec(0, 1)),
        memory(Scope(entity_id, persona), "falcon old", superseded_by=newest.id,
               embedding=vec(1, 0.9)),
        newest,
    ]
    return turns, memories


def _write(store: MemoryStore, entity_id: str, persona: str) -> int:
    turns, memories = _everything(entity_id, persona)
    store.append_turns(turns)
    store.put_memories(memories)
    return len(turns) + len(memories)


class ForgetTests:
    """Right to be forgotten, per entity."""

    @isolation
    def test_forget_leaves_no_trace_of_the_entity(self, store: MemoryStore, ids: Ids) -> None:
        e, persona = ids.entity(), fresh("p")
        turns, memories = _everything(e, persona)
        store.append_turns(turns)
        store.put_memories(memories)
        neighbours = neighbours_of(e, ids)
        for n in neighbours:
            store.append_turns([replace(t, entity_id=n) for t in turns])
            store.put_memories([replace(m, entity_id=n) for m in memories])
        kept = {n: raw_count(store, n) for n in neighbours}
        assert raw_count(store, e) >= len(turns) + len(memories)
        assert store.forget(e) == len(turns) + len(memories), (
            "forget returns the number of turns and memories it removed"
        )
        assert raw_count(store, e) == 0, (
            f"forget({e!r}) left {raw_count(store, e)} rows/documents/points behind"
        )
        for p in (None, persona, *look_alikes(persona)):
            for scope in (Scope(e, p), Scope(e, p, "s1")):
                assert store.list_turns(scope) == [] and store.count_turns(scope) == 0
                assert store.list_memories(scope, include_superseded=True) == []
                assert store.count_memories(scope, include_superseded=True) == 0
                for kwargs, declared in searches(store):
                    for call in (store.search_memories, store.search_turns):
                        assert attempt(call, declared, scope, **kwargs) in (None, [])
        assert all(store.get_memory(Scope(e, persona), m.id) is None for m in memories)
        assert list(store.export(e)) == []
        assert all(t.entity_id != e for t in store.outbox_pending(100_000))
        for n in neighbours:
            assert raw_count(store, n) == kept[n], f"LEAK: forget({e!r}) removed data of {n!r}"
            assert store.count_memories(Scope(n, persona), include_superseded=True) == len(
                memories
            )

    @isolation
    def test_forget_twice_then_write_again(self, store: MemoryStore, ids: Ids) -> None:
        e = ids.entity()
        written = _write(store, e, "p")
        assert store.forget(e) == written
        assert store.forget(e) == 0
        assert raw_count(store, e) == 0
        fresh_start = memory(Scope(e), "a clean slate")
        store.put_memories([fresh_start])
        assert [m.id for m in store.list_memories(Scope(e))] == [fresh_start.id]

    @isolation
    def test_forget_of_a_hostile_id_removes_exactly_that_entity(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        base = fresh("mc-f")
        family = [ids.entity(e) for e in hostile_ids(base)]
        for e in family:
            store.append_turns([turn(Scope(e, None, "s"), "falcon")])
            store.put_memories([memory(Scope(e), "falcon")])
        counts = {e: raw_count(store, e) for e in family}
        assert all(c >= 2 for c in counts.values())
        targets = [base + "%", base[:-1] + "_", base + ".*", base[:-1], base.upper(),
                   '{"$ne": "' + base + '"}', base + "' OR '1'='1", base]
        for target in targets:
            assert store.forget(target) == 2, f"forget({target!r})"
            counts[target] = 0
            for e in family:
                assert raw_count(store, e) == counts[e], (
                    f"LEAK: forget({target!r}) changed entity {e!r}: "
                    f"{counts[e]} -> {raw_count(store, e)}"
                )
