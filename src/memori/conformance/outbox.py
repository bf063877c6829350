"""Required: the augmentation outbox (``outbox_pending``, ``outbox_mark``).

Turns wait for extraction in the PENDING state; the background worker reads them
across entities, oldest first, and marks them DONE, PARKED (gave up), SKIPPED,
or PENDING again with attempts and an error (retry later). The database may
hold other pending turns, so checks look at this test's entities only, and
give its turns timestamps from 1970 so they sort first.
"""

from __future__ import annotations

from memori.conformance.base import Ids
from memori.conformance.checks import assert_same_turn
from memori.conformance.data import fresh, turn
from memori.core import ExtractState, MemoryStore, Scope, Turn

EVERYTHING = 100_000


def _pending_of(store: MemoryStore, *entities: str) -> list[Turn]:
    return [t for t in store.outbox_pending(EVERYTHING) if t.entity_id in entities]


class OutboxTests:
    """The durable queue between recording and extraction."""

    def test_pending_turns_across_entities_oldest_first(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        a, b = Scope(ids.entity(), "p", fresh("s")), Scope(ids.entity(), None, fresh("s"))
        t1 = turn(a, "first", created_at=1.0, metadata={"k": 1})
        t2 = turn(b, "second", created_at=2.0)
        t3 = turn(a, "third", created_at=3.0, extract_attempts=1, extract_error="retry")
        done = turn(a, "done", created_at=1.5, extract_state=ExtractState.DONE)
        parked = turn(b, "parked", created_at=0.5, extract_state=ExtractState.PARKED)
        skipped = turn(b, "skipped", created_at=0.7, extract_state=ExtractState.SKIPPED)
        store.append_turns([t3, done, t1])
        store.append_turns([skipped, t2, parked])
        pending = _pending_of(store, a.entity_id, b.entity_id)
        assert [t.id for t in pending] == [t1.id, t2.id, t3.id]
        for got, want in zip(pending, [t1, t2, t3], strict=True):
            assert_same_turn(got, want)
        few = store.outbox_pending(2)
        assert len(few) == 2, "outbox_pending(limit) returns up to limit turns"
        assert few[0].created_at <= few[1].created_at
        assert all(t.extract_state == ExtractState.PENDING for t in few)
        assert store.outbox_pending(0) == []

    def test_mark_done_parked_skipped_and_retry(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), "p", fresh("s"))
        turns = [turn(scope, f"turn {i}", created_at=10.0 + i) for i in range(5)]
        store.append_turns(turns)
        e = scope.entity_id
        store.outbox_mark(e, [turns[0].id, turns[1].id], ExtractState.DONE)
        store.outbox_mark(e, [turns[2].id], ExtractState.PENDING, attempts=1, error="timeout")
        store.outbox_mark(e, [turns[3].id], ExtractState.PARKED, attempts=5, error="gave up")
        store.outbox_mark(e, [turns[4].id, fresh("t")], ExtractState.SKIPPED)
        pending = _pending_of(store, e)
        assert [t.id for t in pending] == [turns[2].id]
        assert (pending[0].extract_attempts, pending[0].extract_error) == (1, "timeout")
        states = {t.id: t for t in store.list_turns(scope)}
        assert [states[t.id].extract_state for t in turns] == [
            ExtractState.DONE, ExtractState.DONE, ExtractState.PENDING,
            ExtractState.PARKED, ExtractState.SKIPPED,
        ]
        assert (states[turns[3].id].extract_attempts, states[turns[3].id].extract_error) == (
            5, "gave up"
        )
        assert [t.content for t in store.list_turns(scope)] == [t.content for t in turns]
        store.outbox_mark(e, [turns[2].id], ExtractState.DONE)
        assert _pending_of(store, e) == []
        store.outbox_mark(e, [], ExtractState.DONE)

    def test_deleted_and_forgotten_turns_leave_the_outbox(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        scope = Scope(ids.entity(), "p", fresh("s"))
        turns = [turn(scope, f"turn {i}", created_at=20.0 + i) for i in range(3)]
        store.append_turns(turns)
        assert store.delete_turns(scope, [turns[0].id]) == 1
        assert [t.id for t in _pending_of(store, scope.entity_id)] == [t.id for t in turns[1:]]
        store.forget(scope.entity_id)
        assert _pending_of(store, scope.entity_id) == []
