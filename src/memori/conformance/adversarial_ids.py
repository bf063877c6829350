"""Isolation: ids are data, never syntax, and are compared whole and case-sensitively.

Entity, persona, session and item ids that look like SQL, LIKE patterns, regexes
or Mongo operators, differ only by case, prefix, Unicode form or whitespace, or
run to 255 characters must round-trip exactly and never match each other.
Invalid ids (None, "", 256 characters, NUL, bytes, dicts) are refused with a
``ValueError`` before any query runs.
"""

from __future__ import annotations

from typing import Any

import pytest

from memori.conformance.base import Ids, raw_count
from memori.conformance.checks import assert_memory_hits, assert_turn_hits
from memori.conformance.data import fresh, hostile_ids, hostile_item_ids, memory, turn, vec
from memori.conformance.guard import isolation
from memori.conformance.worlds import attempt, ids_of, searches
from memori.core import ExtractState, Memory, MemoryStore, Scope, Turn

INVALID_IDS: tuple[Any, ...] = (
    None, "", "x" * 256, "a\x00b", b"bytes", {"$ne": ""}, {"$gt": ""}, 5, ["a"],
    "eve\ud800", "\udfff", "   ", "\t\n",  # a lone surrogate; only whitespace
)


def _check_searches(store: MemoryStore, scope: Scope, memory_id: str | None,
                    turn_id: str | None) -> None:
    """Declared and undeclared searches of ``scope`` find nothing but its own items."""
    for kwargs, declared in searches(store):
        hits = attempt(store.search_memories, declared, scope, limit=50, **kwargs)
        if hits is not None and memory_id is not None:
            assert_memory_hits(hits, scope, {memory_id}, limit=50)
        hits = attempt(store.search_turns, declared, scope, limit=50, **kwargs)
        if hits is not None and turn_id is not None:
            assert_turn_hits(hits, scope, {turn_id}, limit=50)


class AdversarialIdTests:
    """Hostile ids in every id position."""

    @isolation
    def test_hostile_entity_ids_round_trip_and_stay_apart(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        family = [ids.entity(e) for e in hostile_ids(fresh("mc-h"))]
        memory_id = fresh("m")
        turns = [turn(Scope(e, "p", "s"), f"falcon {i}", embedding=vec(1, i / 100))
                 for i, e in enumerate(family)]
        memories = [Memory(id=memory_id, entity_id=e, content=f"falcon memory {i}",
                           embedding=vec(1, i / 100)) for i, e in enumerate(family)]
        store.append_turns(turns)
        store.put_memories(memories)
        for e, t, m in zip(family, turns, memories, strict=True):
            listed = store.list_turns(Scope(e, "p", "s"))
            assert ids_of(listed) == [t.id], f"list_turns of entity {e!r}: {ids_of(listed)}"
            assert listed[0].entity_id == e, f"entity id {e!r} came back as {listed[0].entity_id!r}"
            assert store.count_turns(Scope(e, "p")) == 1, f"count_turns of entity {e!r}"
            got = store.get_memory(Scope(e), memory_id)
            assert got is not None and (got.entity_id, got.content) == (e, m.content), (
                f"LEAK: get_memory under entity {e!r} returned {got and got.entity_id!r}"
            )
            assert store.count_memories(Scope(e)) == 1, f"count_memories of entity {e!r}"
            _check_searches(store, Scope(e, "p", "s"), memory_id, t.id)
            exported = list(store.export(e))
            assert sorted((r["type"], r["entity_id"]) for r in exported) == [
                ("memory", e), ("turn", e)
            ], f"export of entity {e!r}"

    @isolation
    def test_hostile_persona_ids_stay_apart(self, store: MemoryStore, ids: Ids) -> None:
        e = ids.entity()
        family = hostile_ids(fresh("p"))
        turns = {p: turn(Scope(e, p, "s"), f"falcon {p}", embedding=vec(1)) for p in family}
        memories = {p: memory(Scope(e, p), f"falcon {p}", embedding=vec(1)) for p in family}
        store.append_turns(list(turns.values()))
        store.put_memories(list(memories.values()))
        for p in family:
            scope = Scope(e, p, "s")
            listed = store.list_memories(scope)
            assert ids_of(listed) == [memories[p].id], f"list_memories of persona {p!r}"
            assert listed[0].process_id == p, f"persona {p!r} came back as {listed[0].process_id!r}"
            assert ids_of(store.list_turns(scope)) == [turns[p].id], f"list_turns of persona {p!r}"
            assert store.count_memories(scope) == 1 and store.count_turns(scope) == 1
            _check_searches(store, scope, memories[p].id, turns[p].id)
        assert store.list_memories(Scope(e)) == [], "a scope with no persona saw persona memories"
        assert store.count_turns(Scope(e)) == 0, "a scope with no persona saw persona turns"

    @isolation
    def test_hostile_session_ids_stay_apart(self, store: MemoryStore, ids: Ids) -> None:
        e, base = ids.entity(), fresh("s")
        family = hostile_ids(base)
        turns = {s: turn(Scope(e, "p", s), f"falcon {s}", embedding=vec(1)) for s in family}
        store.append_turns(list(turns.values()))
        for s in family:
            scope = Scope(e, "p", s)
            listed = store.list_turns(scope)
            assert ids_of(listed) == [turns[s].id], f"list_turns of session {s!r}"
            assert listed[0].session_id == s, f"session {s!r} came back as {listed[0].session_id!r}"
            assert store.count_turns(scope) == 1
            _check_searches(store, scope, None, turns[s].id)
        for s in (base + "%", base[:-1], base.upper(), base + ".*"):
            assert store.delete_turns(Scope(e, "p", s)) == 1, f"delete_turns of session {s!r}"
        assert store.count_turns(Scope(e, "p")) == len(family) - 4

    @isolation
    def test_hostile_item_ids_are_matched_whole(self, store: MemoryStore, ids: Ids) -> None:
        scope, base = Scope(ids.entity(), "p", "s"), fresh("i")
        family = hostile_item_ids(base)
        store.put_memories([Memory(id=i, entity_id=scope.entity_id, process_id="p",
                                   content=f"memory {i}") for i in family])
        store.append_turns([Turn(id=i, entity_id=scope.entity_id, process_id="p",
                                 session_id="s", role="user", content=f"turn {i}")
                            for i in family])
        for i in family:
            got = store.get_memory(scope, i)
            assert got is not None and (got.id, got.content) == (i, f"memory {i}"), (
                f"get_memory({i!r}) returned {got and got.id!r}"
            )
        assert store.update_memory(scope, base + "%", {"count": 5}) is True
        counts = {m.id: m.count for m in store.list_memories(scope)}
        assert [i for i, c in counts.items() if c == 5] == [base + "%"]
        doomed = [base + "%", base[:-1] + "_", base + ".*", base.upper()]
        assert store.delete_memories(scope, doomed) == 4
        assert store.delete_turns(scope, doomed) == 4
        assert sorted(ids_of(store.list_memories(scope))) == sorted(set(family) - set(doomed))
        assert sorted(ids_of(store.list_turns(scope))) == sorted(set(family) - set(doomed))

    @isolation
    @pytest.mark.parametrize("bad", INVALID_IDS, ids=lambda v: repr(v)[:24])
    def test_invalid_ids_are_refused_before_any_query(
        self, store: MemoryStore, ids: Ids, bad: Any
    ) -> None:
        scope = Scope(ids.entity(), "p", "s")
        t, m = turn(scope, "kept"), memory(scope, "kept")
        store.append_turns([t])
        store.put_memories([m])
        before = raw_count(store, scope.entity_id)
        with pytest.raises(ValueError):
            Scope(bad)
        with pytest.raises(ValueError):
            store.forget(bad)
        with pytest.raises(ValueError):
            list(store.export(bad))
        with pytest.raises(ValueError):
            raw_count(store, bad)
        with pytest.raises(ValueError):
            store.outbox_mark(bad, [t.id], ExtractState.DONE)
        for call in (
            lambda: store.get_memory(scope, bad),
            lambda: store.delete_memories(scope, [bad]),
            lambda: store.delete_turns(scope, [bad]),
            lambda: store.update_memory(scope, bad, {"count": 7}),
        ):
            try:
                result = call()
            except (ValueError, TypeError):
                continue
            assert result in (None, 0, False), f"a bad item id {bad!r} matched: {result!r}"
        assert raw_count(store, scope.entity_id) == before
        assert [(x.id, x.extract_state) for x in store.list_turns(scope)] == [
            (t.id, ExtractState.PENDING)
        ]
        got = store.get_memory(scope, m.id)
        assert got is not None and got.count == 1
