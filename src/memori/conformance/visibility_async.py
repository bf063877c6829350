"""Isolation through the async twins (``a*`` methods), whenever a store has them.

Not switched by a capability: a store that has the methods is checked, a store
that has none must not declare ``ASYNC``.
"""

from __future__ import annotations

import pytest

from memori.conformance.base import AsyncStore, Ids, raw_count
from memori.conformance.checks import assert_memory_hits, assert_turn_hits
from memori.conformance.guard import isolation
from memori.conformance.worlds import build_memory_world, build_turn_world, searches
from memori.core import Capability, ExtractState, MemoryStore, Scope


class AsyncVisibilityTests:
    """The visibility contract through the async read and write paths."""

    @isolation
    @pytest.mark.asyncio
    async def test_async_paths_respect_the_scope(
        self, astore: AsyncStore | None, store: MemoryStore, ids: Ids
    ) -> None:
        if astore is None:
            assert Capability.ASYNC not in store.capabilities, (
                "the store declares ASYNC but has no a* methods"
            )
            return
        a = astore
        mw, tw = build_memory_world(store, ids), build_turn_world(store, ids)
        for scope in mw.scopes():
            want = mw.expected(scope)
            listed = await a.alist_memories(scope)
            assert sorted(m.id for m in listed) == sorted(want), f"alist_memories({scope})"
            assert await a.acount_memories(scope) == len(want)
            for kwargs, declared in searches(astore):
                if declared:
                    hits = await a.asearch_memories(scope, limit=100, **kwargs)
                    assert_memory_hits(hits, scope, want, limit=100)
            for m in mw.memories.values():
                got = await a.aget_memory(scope, m.id)
                visible = m.id in mw.expected(scope, include_superseded=True)
                assert (got is not None) is visible, f"aget_memory({scope}, {m.id!r})"
                assert got is None or got.entity_id == mw.entity
                if not visible:
                    assert await a.aupdate_memory(scope, m.id, {"count": 9}) is False
                    assert await a.adelete_memories(scope, [m.id]) == 0
        for scope in tw.scopes():
            want_turns = tw.expected(scope)
            listed_turns = await a.alist_turns(scope)
            assert [t.id for t in listed_turns] == want_turns, f"alist_turns({scope})"
            assert await a.acount_turns(scope) == len(want_turns)
            for kwargs, declared in searches(astore):
                if declared:
                    hits = await a.asearch_turns(scope, limit=100, **kwargs)
                    assert_turn_hits(hits, scope, set(want_turns), limit=100)
            others = [t.id for t in tw.turns if t.id not in want_turns]
            if scope.session_id is not None and others:
                assert await a.adelete_turns(scope, others) == 0
        if hasattr(a, "aoutbox_mark"):
            await a.aoutbox_mark(tw.entity, [t.id for t in tw.turns], ExtractState.DONE)
            for e in tw.neighbours:
                for t in store.list_turns(Scope(e, tw.personas[1])):
                    assert t.extract_state == ExtractState.PENDING, (
                        f"LEAK: aoutbox_mark for {tw.entity!r} changed turn {t.id!r} of {e!r}"
                    )
            mine = {t.id for t in tw.turns}
            assert not [
                t for t in await a.aoutbox_pending(100_000)
                if t.entity_id == tw.entity and t.id in mine
            ]
        before = raw_count(store, mw.entity)
        for e in mw.neighbours:
            assert await a.aforget(e) > 0
        assert raw_count(store, mw.entity) == before, "LEAK: aforget of a look-alike entity"
        owner = Scope(mw.entity, None)
        want = mw.expected(owner, include_superseded=True)
        assert await a.acount_memories(owner, include_superseded=True) == len(want)
