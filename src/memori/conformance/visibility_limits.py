"""Isolation at every limit: small, exact and very large pages keep every filter.

Lists and searches of turns and memories are read at the boundaries (0, 1, the
scope's count, one more) and at several hundred, with other entities',
personas' and sessions' data present; the latest history is read through the
store's ``recent_turns`` (when it has one) and through
``memori.core.recent_turns``, which the LLM path and the retriever use. All of it
again inside one ``memori.core.shared_reads(store)`` block, as the LLM path reads.
"""

from __future__ import annotations

from memori.conformance.base import Ids
from memori.conformance.checks import assert_only_entity
from memori.conformance.guard import isolation
from memori.conformance.limits import (
    check_limited_memories,
    check_limited_turns,
    latest,
    limits_for,
    search_at,
)
from memori.conformance.sessions import build_session_world
from memori.conformance.worlds import (
    MemoryWorld,
    TurnWorld,
    build_memory_world,
    ids_of,
    searches,
)
from memori.core import (
    Capability,
    Memory,
    MemoryStore,
    Scope,
    SupportsRecentTurns,
    Turn,
    list_pinned,
    recent_turns,
    shared_reads,
)


class LimitVisibilityTests:
    """Entity, persona and session rules whatever the limit; recent history per session."""

    @isolation
    def test_turn_limits_never_widen_the_scope(self, store: MemoryStore, ids: Ids) -> None:
        _check_turn_limits(store, build_session_world(store, ids))

    @isolation
    def test_memory_limits_never_widen_the_scope(self, store: MemoryStore, ids: Ids) -> None:
        _check_memory_limits(store, build_memory_world(store, ids))

    @isolation
    def test_shared_reads_keep_every_scopes_rules(self, store: MemoryStore, ids: Ids) -> None:
        """The LLM path reads a call's history, pinned memories and searches inside
        ``memori.core.shared_reads(store)``: what one read learns there (a connection, an
        entity's version) serves the next, whatever its scope, and a write made inside
        is seen by the reads after it."""
        turns, memories = build_session_world(store, ids), build_memory_world(store, ids)
        with shared_reads(store):
            _check_turn_limits(store, turns)
            _check_memory_limits(store, memories)
            _check_recent_turns(store, turns)
            newcomer = ids.entity()  # no rows yet: the block learns "none" of it first
            scope = Scope(newcomer, None, "s1")
            text = Capability.TEXT_SEARCH in store.capabilities
            assert recent_turns(store, scope, limit=5) == []
            assert list_pinned(store, scope) == []
            if text:
                assert store.search_memories(scope, text="falcon", limit=5) == []
            store.put_memories([Memory(newcomer, "falcon nest", pinned=True)])
            store.append_turns([Turn(newcomer, "s1", "user", "a falcon")])
            assert [t.content for t in recent_turns(store, scope, limit=5)] == ["a falcon"]
            assert [m.content for m in list_pinned(store, scope)] == ["falcon nest"]
            if text:
                found = store.search_memories(scope, text="falcon", limit=5)
                assert [h.item.content for h in found] == ["falcon nest"]

    @isolation
    def test_recent_turns_read_one_conversation(self, store: MemoryStore, ids: Ids) -> None:
        _check_recent_turns(store, build_session_world(store, ids))


def _check_turn_limits(store: MemoryStore, world: TurnWorld) -> None:
    for scope in world.scopes():
        want = world.expected(scope)
        for limit in limits_for(len(want)):
            listed = store.list_turns(scope, limit=limit)
            assert_only_entity(listed, world.entity, "list_turns")
            assert ids_of(listed) == latest(want, limit), f"list_turns({scope}, {limit=})"
            for kwargs, declared in searches(store):
                hits = search_at(store.search_turns, declared, limit, scope, **kwargs)
                if hits is not None:
                    check_limited_turns(hits, store, scope, want, limit, kwargs, declared,
                                        "search_turns")


def _check_memory_limits(store: MemoryStore, world: MemoryWorld) -> None:
    for scope in world.scopes():
        for history in (False, True):
            want = world.expected(scope, history)
            for limit in limits_for(len(want)):
                listed = store.list_memories(scope, include_superseded=history, limit=limit)
                assert_only_entity(listed, world.entity, "list_memories")
                got = ids_of(listed)
                distinct = len(got) == len(set(got))
                assert set(got) <= want and distinct and len(got) == min(limit, len(want)), (
                    f"list_memories({scope}, include_superseded={history}, {limit=}) "
                    f"returned {sorted(got)}; visible: {sorted(want)}"
                )
                for kwargs, declared in searches(store):
                    hits = search_at(store.search_memories, declared, limit, scope,
                                     include_superseded=history, **kwargs)
                    if hits is not None:
                        check_limited_memories(hits, store, scope, want, limit, kwargs,
                                               declared, history, "search_memories")


def _check_recent_turns(store: MemoryStore, world: TurnWorld) -> None:
    own = store.recent_turns if isinstance(store, SupportsRecentTurns) else None
    for scope in world.scopes():
        want = world.expected(scope)
        for limit in limits_for(len(want)):
            got = recent_turns(store, scope, limit=limit)
            assert_only_entity(got, world.entity, "recent_turns")
            assert ids_of(got) == latest(want, limit), (
                f"memori.core.recent_turns({scope}, {limit=})"
            )
            if own is not None:
                got = own(scope, limit=limit)
                assert_only_entity(got, world.entity, "store.recent_turns")
                assert ids_of(got) == latest(want, limit), (
                    f"store.recent_turns({scope}, {limit=})"
                )
