"""Isolation at every limit: small, exact and very large pages keep every filter.

Lists and searches of turns and memories are read at the boundaries (0, 1, the
scope's count, one more) and at several hundred, with other entities',
personas' and sessions' data present; the latest history is read through the
store's ``recent_turns`` (when it has one) and through
``memori.core.recent_turns``, which the LLM path and the retriever use.
"""

from __future__ import annotations

from memori.conformance.base import Ids
from memori.conformance.checks import assert_memory_hits, assert_only_entity, assert_turn_hits
from memori.conformance.guard import isolation
from memori.conformance.limits import latest, limits_for, search_at
from memori.conformance.sessions import build_session_world
from memori.conformance.worlds import build_memory_world, exact, ids_of, searches
from memori.core import MemoryStore, SupportsRecentTurns, recent_turns


class LimitVisibilityTests:
    """Entity, persona and session rules whatever the limit; recent history per session."""

    @isolation
    def test_turn_limits_never_widen_the_scope(self, store: MemoryStore, ids: Ids) -> None:
        world = build_session_world(store, ids)
        for scope in world.scopes():
            want = world.expected(scope)
            for limit in limits_for(len(want)):
                listed = store.list_turns(scope, limit=limit)
                assert_only_entity(listed, world.entity, "list_turns")
                assert ids_of(listed) == latest(want, limit), f"list_turns({scope}, {limit=})"
                for kwargs, declared in searches(store):
                    hits = search_at(store.search_turns, declared, limit, scope, **kwargs)
                    if hits is None:
                        continue
                    assert_turn_hits(hits, scope, set(want), limit=limit)
                    if declared and exact(store, kwargs):
                        assert len(hits) == min(limit, len(want)), (
                            f"search_turns({scope}, {kwargs}, {limit=}) returned {len(hits)} "
                            f"of the scope's {len(want)} matching turns"
                        )

    @isolation
    def test_memory_limits_never_widen_the_scope(self, store: MemoryStore, ids: Ids) -> None:
        world = build_memory_world(store, ids)
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
                        if hits is None:
                            continue
                        assert_memory_hits(hits, scope, want, limit=limit,
                                           include_superseded=history)
                        if declared and exact(store, kwargs):
                            assert len(hits) == min(limit, len(want)), (
                                f"search_memories({scope}, {kwargs}, include_superseded="
                                f"{history}, {limit=}) returned {len(hits)} of {len(want)}"
                            )

    @isolation
    def test_recent_turns_read_one_conversation(self, store: MemoryStore, ids: Ids) -> None:
        world = build_session_world(store, ids)
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
