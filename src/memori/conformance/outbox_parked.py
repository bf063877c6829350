"""Required: parked turns (``outbox_parked``), counted by ``admin_stats`` and re-queued.

A turn whose extraction failed too often is PARKED with the reason in
``extract_error``. ``outbox_parked`` lists such turns across entities, oldest
first (the operator's view, like ``outbox_pending`` the worker's), and
``outbox_mark(entity, ids, PENDING, attempts=0)`` puts one back in the outbox,
keeping its last error until a later mark replaces it. The database may hold
other parked turns, so checks look at this test's entities only, and give its
turns timestamps from 1970 so they sort first.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from memori.conformance.base import AsyncStore, Ids, raw_count
from memori.conformance.checks import assert_same_turn
from memori.conformance.data import fresh, turn
from memori.core import Capability, ExtractState, MemoryStore, Scope, Turn

EVERYTHING = 100_000


def _parked_of(store: MemoryStore, *entities: str) -> list[Turn]:
    return [t for t in store.outbox_parked(EVERYTHING) if t.entity_id in entities]


def _pending_of(store: MemoryStore, *entities: str) -> list[Turn]:
    return [t for t in store.outbox_pending(EVERYTHING) if t.entity_id in entities]


def _counts(store: MemoryStore) -> tuple[int, int]:
    stats = store.admin_stats()
    return int(stats["outbox_pending"]), int(stats["outbox_parked"])


class OutboxParkedTests:
    """Listing, counting and re-queueing the turns extraction gave up on."""

    def test_parked_turns_across_entities_oldest_first_with_reason(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        a, b = Scope(ids.entity(), "p", fresh("s")), Scope(ids.entity(), None, fresh("s"))
        p1 = turn(a, "parked first", created_at=0.1, extract_state=ExtractState.PARKED,
                  extract_attempts=4, extract_error="ValueError: not JSON")
        p3 = turn(a, "parked third", created_at=0.3, extract_state=ExtractState.PARKED,
                  extract_attempts=5, extract_error="TimeoutError: model")
        later = turn(b, "parked by the worker", created_at=0.2, metadata={"k": 1})
        pending = turn(a, "pending", created_at=0.05)
        done = turn(b, "done", created_at=0.06, extract_state=ExtractState.DONE,
                    extract_attempts=1, extract_error="old")
        skipped = turn(b, "skipped", created_at=0.07, extract_state=ExtractState.SKIPPED)
        store.append_turns([p3, pending, p1])
        store.append_turns([skipped, later, done])
        store.outbox_mark(b.entity_id, [later.id], ExtractState.PARKED, attempts=4,
                          error="RuntimeError: gave up")
        parked = _parked_of(store, a.entity_id, b.entity_id)
        assert [t.id for t in parked] == [p1.id, later.id, p3.id], (
            "outbox_parked lists parked turns only, oldest first across entities"
        )
        want_later = replace(later, extract_state=ExtractState.PARKED, extract_attempts=4,
                             extract_error="RuntimeError: gave up")
        for got, want in zip(parked, [p1, want_later, p3], strict=True):
            assert_same_turn(got, want)
            assert got.extract_state is ExtractState.PARKED
        assert [t.id for t in _pending_of(store, a.entity_id, b.entity_id)] == [pending.id]

    def test_parked_limit(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "p", fresh("s"))
        turns = [turn(scope, f"parked {i}", created_at=0.1 + i / 10,
                      extract_state=ExtractState.PARKED, extract_attempts=4,
                      extract_error="boom") for i in range(3)]
        store.append_turns(turns)
        assert [t.id for t in _parked_of(store, scope.entity_id)] == [t.id for t in turns]
        everything = store.outbox_parked(EVERYTHING)
        few = store.outbox_parked(2)
        assert len(few) == 2, "outbox_parked(limit) returns up to limit turns"
        assert [t.id for t in few] == [t.id for t in everything[:2]], "the oldest come first"
        assert all(t.extract_state is ExtractState.PARKED for t in few)
        assert store.outbox_parked(0) == []
        with pytest.raises(ValueError):
            store.outbox_parked(-1)

    def test_admin_stats_counts_pending_and_parked_turns(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        pending_before, parked_before = _counts(store)
        scope = Scope(ids.entity(), None, fresh("s"))
        parked = [turn(scope, f"parked {i}", created_at=0.1 + i / 10,
                       extract_state=ExtractState.PARKED) for i in range(2)]
        store.append_turns([*parked, turn(scope, "pending", created_at=0.5),
                            turn(scope, "done", created_at=0.6, extract_state=ExtractState.DONE)])
        assert _counts(store) == (pending_before + 1, parked_before + 2)
        store.outbox_mark(scope.entity_id, [parked[0].id], ExtractState.PENDING, attempts=0)
        assert _counts(store) == (pending_before + 2, parked_before + 1)

    def test_requeue_moves_a_parked_turn_back_to_the_outbox(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        scope = Scope(ids.entity(), "p", fresh("s"))
        turns = [turn(scope, f"turn {i}", created_at=0.1 + i / 10) for i in range(2)]
        store.append_turns(turns)
        e = scope.entity_id
        store.outbox_mark(e, [t.id for t in turns], ExtractState.PARKED, attempts=4,
                          error="ValueError: not JSON")
        assert _pending_of(store, e) == []
        assert [t.id for t in _parked_of(store, e)] == [t.id for t in turns]
        store.outbox_mark(e, [turns[0].id], ExtractState.PENDING, attempts=0)
        (back,) = _pending_of(store, e)
        assert back.id == turns[0].id and back.extract_state is ExtractState.PENDING
        assert (back.extract_attempts, back.extract_error) == (0, "ValueError: not JSON"), (
            "a re-queued turn starts its attempts again and keeps its last error"
        )
        assert [t.id for t in _parked_of(store, e)] == [turns[1].id]
        store.outbox_mark(e, [turns[0].id], ExtractState.DONE)
        assert _pending_of(store, e) == []
        assert [t.id for t in _parked_of(store, e)] == [turns[1].id]
        states = {t.id: t.extract_state for t in store.list_turns(scope)}
        assert states == {turns[0].id: ExtractState.DONE, turns[1].id: ExtractState.PARKED}

    def test_forget_removes_the_entity_from_the_parked_list(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        gone, kept = Scope(ids.entity(), "p", fresh("s")), Scope(ids.entity(), "p", fresh("s"))
        store.append_turns([
            turn(s, f"parked {i}", created_at=0.1 + i / 10, extract_state=ExtractState.PARKED)
            for i, s in enumerate([gone, kept, gone])
        ])
        assert len(_parked_of(store, gone.entity_id, kept.entity_id)) == 3
        store.forget(gone.entity_id)
        assert [t.entity_id for t in _parked_of(store, gone.entity_id, kept.entity_id)] == [
            kept.entity_id
        ]

    @pytest.mark.asyncio
    async def test_async_outbox_parked_twin(
        self, astore: AsyncStore | None, store: MemoryStore
    ) -> None:
        if astore is None or Capability.ASYNC not in astore.capabilities:
            pytest.skip("store does not declare async")
        if not hasattr(astore, "aoutbox_parked"):
            pytest.skip("the store has no async aoutbox_parked (callers use a thread)")
        e = fresh("mc-e")
        assert raw_count(store, e) == 0
        scope = Scope(e, None, fresh("s"))
        turns = [turn(scope, f"turn {i}", created_at=0.1 + i / 10,
                      extract_state=ExtractState.PARKED, extract_error="boom")
                 for i in range(2)]
        try:
            await astore.aappend_turns(turns)
            parked = [t for t in await astore.aoutbox_parked(EVERYTHING) if t.entity_id == e]
            assert [(t.id, t.extract_error) for t in parked] == [(t.id, "boom") for t in turns]
            assert len(await astore.aoutbox_parked(1)) == 1
        finally:
            await astore.aforget(e)
