"""Isolation through the async twins at every limit, and with history included.

The async retriever reads a session's history with ``alist_turns(scope,
limit=...)`` and searches with large limits; ``alist_memories`` and
``acount_memories`` serve history (``include_superseded=True``). A store with
``a*`` methods is checked through them (declared or not), like the sync paths.
"""

from __future__ import annotations

import pytest

from memori.conformance.base import AsyncStore, Ids
from memori.conformance.checks import assert_only_entity
from memori.conformance.guard import isolation
from memori.conformance.limits import (
    asearch_at,
    check_limited_memories,
    check_limited_turns,
    latest,
    limits_for,
)
from memori.conformance.sessions import build_session_world
from memori.conformance.worlds import build_memory_world, ids_of, searches
from memori.core import MemoryStore


class AsyncLimitVisibilityTests:
    """``alist_turns`` / ``asearch_*`` at every limit; ``alist_memories`` with history."""

    @isolation
    @pytest.mark.asyncio
    async def test_async_turn_limits_never_widen_the_scope(
        self, astore: AsyncStore | None, store: MemoryStore, ids: Ids
    ) -> None:
        if astore is None:
            return  # no a* methods (test_async_paths_respect_the_scope checks the declaration)
        a = astore
        world = build_session_world(store, ids)
        arecent = getattr(a, "arecent_turns", None)
        for scope in world.scopes():
            want = world.expected(scope)
            for limit in limits_for(len(want)):
                listed = await a.alist_turns(scope, limit=limit)
                assert_only_entity(listed, world.entity, "alist_turns")
                assert ids_of(listed) == latest(want, limit), f"alist_turns({scope}, {limit=})"
                if arecent is not None:
                    recent = await arecent(scope, limit=limit)
                    assert ids_of(recent) == latest(want, limit), (
                        f"arecent_turns({scope}, {limit=})"
                    )
                for kwargs, declared in searches(a):
                    hits = await asearch_at(a.asearch_turns, declared, limit, scope, **kwargs)
                    if hits is not None:
                        check_limited_turns(hits, a, scope, want, limit, kwargs, declared,
                                            "asearch_turns")
            assert [t.id for t in await a.alist_turns(scope)] == want, f"alist_turns({scope})"

    @isolation
    @pytest.mark.asyncio
    async def test_async_memory_history_and_limits_respect_the_scope(
        self, astore: AsyncStore | None, store: MemoryStore, ids: Ids
    ) -> None:
        if astore is None:
            return
        a = astore
        world = build_memory_world(store, ids)
        for scope in world.scopes():
            for history in (False, True):
                want = world.expected(scope, history)
                label = f"({scope}, include_superseded={history}"
                listed = await a.alist_memories(scope, include_superseded=history)
                assert_only_entity(listed, world.entity, "alist_memories")
                assert sorted(ids_of(listed)) == sorted(want), f"alist_memories{label})"
                counted = await a.acount_memories(scope, include_superseded=history)
                assert counted == len(want), f"acount_memories{label}) is {counted}"
                for limit in limits_for(len(want)):
                    paged = ids_of(
                        await a.alist_memories(scope, include_superseded=history, limit=limit)
                    )
                    assert set(paged) <= want and len(paged) == min(limit, len(want)), (
                        f"alist_memories{label}, {limit=}) returned {sorted(paged)}"
                    )
                    for kwargs, declared in searches(a):
                        hits = await asearch_at(a.asearch_memories, declared, limit, scope,
                                                include_superseded=history, **kwargs)
                        if hits is not None:
                            check_limited_memories(hits, a, scope, want, limit, kwargs,
                                                   declared, history, "asearch_memories")
