"""Optional (ASYNC): the ``a*`` twins behave like the sync methods and yield to the loop."""

from __future__ import annotations

import asyncio

import pytest

from memori.conformance.base import AsyncStore, raw_count
from memori.conformance.checks import assert_memory_hits, assert_same_memory, assert_same_turns
from memori.conformance.data import fresh, memory, turn, vec
from memori.core import Capability, ExtractState, MemoryStore, Scope


def _need(astore: AsyncStore | None) -> AsyncStore:
    if astore is None or Capability.ASYNC not in astore.capabilities:
        pytest.skip("store does not declare async")
    return astore


class AsyncApiTests:
    """The async twins, for stores that declare ``ASYNC``."""

    @pytest.mark.asyncio
    async def test_async_twins_round_trip(
        self, astore: AsyncStore | None, store: MemoryStore
    ) -> None:
        a = _need(astore)
        e = fresh("mc-e")
        assert raw_count(store, e) == 0
        try:
            scope = Scope(e, "p", fresh("s"))
            turns = [turn(scope, f"falcon {i}", embedding=vec(1, i)) for i in range(3)]
            await a.aappend_turns(turns)
            assert_same_turns(await a.alist_turns(scope), turns)
            assert [t.id for t in await a.alist_turns(scope, limit=1)] == [turns[-1].id]
            assert await a.acount_turns(scope) == 3
            assert await a.adelete_turns(scope, [turns[0].id]) == 1
            old, new = memory(scope, "falcon old", embedding=vec(1)), memory(scope, "falcon new")
            await a.aput_memories([old, new])
            got = await a.aget_memory(scope, old.id)
            assert got is not None
            assert_same_memory(got, old)
            assert await a.aupdate_memory(scope, old.id, {"superseded_by": new.id}) is True
            assert [m.id for m in await a.alist_memories(scope)] == [new.id]
            history = await a.alist_memories(scope, include_superseded=True, limit=1, offset=1)
            assert [m.id for m in history] == [new.id]
            assert await a.acount_memories(scope, include_superseded=True) == 2
            if Capability.TEXT_SEARCH in a.capabilities:
                hits = await a.asearch_memories(scope, text="falcon", include_superseded=True)
                assert_memory_hits(hits, scope, {old.id, new.id}, limit=10,
                                   include_superseded=True)
                assert len(hits) == 2
                turn_hits = await a.asearch_turns(scope, text="falcon")
                assert {h.id for h in turn_hits} == {t.id for t in turns[1:]}
            assert await a.adelete_memories(scope, [new.id]) == 1
            await a.asetup()
            assert await a.aforget(e) == 3
            assert raw_count(store, e) == 0
        finally:
            await a.aforget(e)

    @pytest.mark.asyncio
    async def test_async_outbox_twins(self, astore: AsyncStore | None) -> None:
        a = _need(astore)
        if not hasattr(a, "aoutbox_pending"):
            pytest.skip("the store has no async outbox twins (callers use a thread)")
        e = fresh("mc-e")
        scope = Scope(e, None, fresh("s"))
        turns = [turn(scope, f"turn {i}", created_at=30.0 + i) for i in range(3)]
        try:
            await a.aappend_turns(turns)
            pending = [t for t in await a.aoutbox_pending(100_000) if t.entity_id == e]
            assert [t.id for t in pending] == [t.id for t in turns]
            await a.aoutbox_mark(e, [turns[0].id], ExtractState.DONE)
            await a.aoutbox_mark(e, [turns[1].id], ExtractState.PENDING, attempts=2, error="x")
            pending = [t for t in await a.aoutbox_pending(100_000) if t.entity_id == e]
            assert [(t.id, t.extract_attempts, t.extract_error) for t in pending] == [
                (turns[1].id, 2, "x"), (turns[2].id, 0, None),
            ]
        finally:
            await a.aforget(e)

    @pytest.mark.asyncio
    async def test_async_calls_yield_to_the_event_loop(
        self, astore: AsyncStore | None
    ) -> None:
        a = _need(astore)
        e = fresh("mc-e")
        scope = Scope(e, None, fresh("s"))
        ticks = 0

        async def ticker() -> None:
            nonlocal ticks
            while True:
                ticks += 1
                await asyncio.sleep(0)

        task = asyncio.create_task(ticker())
        try:
            for i in range(5):
                await a.aappend_turns([turn(scope, f"turn {i}")])
                await a.acount_turns(scope)
            assert ticks > 0, "the a* methods never yielded: they block the event loop"
        finally:
            task.cancel()
            await a.aforget(e)
