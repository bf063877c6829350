"""Isolation under concurrency: writers in different scopes never see each other.

Threads share one handle (the facade serves every thread with one store) or
each hold their own (several workers or processes on one database); asyncio
tasks share one handle through the async twins. Half of the writers share an
entity with distinct personas, so entity and persona filters are both tested.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest

from memori.conformance.base import AsyncStore, Ids, StoreOpener
from memori.conformance.checks import assert_memory_hits, assert_turn_hits
from memori.conformance.data import fresh, memory, turn, vec
from memori.conformance.guard import isolation
from memori.conformance.worlds import ids_of, searches
from memori.core import Capability, MemoryStore, Scope

WORKERS = 6
ROUNDS = 10


@dataclass
class Writer:
    """One concurrent writer: its scope and what it wrote so far."""

    scope: Scope
    turns: list[str] = field(default_factory=list)
    memories: list[str] = field(default_factory=list)


def _writers(ids: Ids, n: int) -> list[Writer]:
    shared_entity = ids.entity()
    return [
        Writer(Scope(ids.entity() if i % 2 else shared_entity, fresh(f"p{i}"), fresh("s")))
        for i in range(n)
    ]


def _round(store: MemoryStore, w: Writer, others: list[Writer], n: int) -> None:
    """Write one turn and one memory, then check every read sees exactly the writer's own."""
    t = turn(w.scope, f"falcon {w.scope.process_id} {n}", embedding=vec(1, n / 10))
    m = memory(w.scope, f"falcon {w.scope.process_id} {n}", embedding=vec(1, n / 10))
    store.append_turns([t])
    store.put_memories([m])
    w.turns.append(t.id)
    w.memories.append(m.id)
    assert ids_of(store.list_turns(w.scope)) == w.turns, f"list_turns({w.scope})"
    assert store.count_memories(w.scope) == len(w.memories), f"count_memories({w.scope})"
    assert sorted(ids_of(store.list_memories(w.scope))) == sorted(w.memories)
    for kwargs, declared in searches(store):
        if declared:
            assert_memory_hits(store.search_memories(w.scope, limit=50, **kwargs), w.scope,
                               set(w.memories), limit=50)
            assert_turn_hits(store.search_turns(w.scope, limit=50, **kwargs), w.scope,
                             set(w.turns), limit=50)
    for other in others:
        for memory_id in other.memories[-1:]:
            assert store.get_memory(w.scope, memory_id) is None, (
                f"LEAK: {w.scope} read memory {memory_id!r} of {other.scope}"
            )


def _rounds(store: MemoryStore, w: Writer, writers: list[Writer]) -> Callable[[], None]:
    """The work of one writer thread."""
    others = [o for o in writers if o is not w]

    def work() -> None:
        for n in range(ROUNDS):
            _round(store, w, others, n)

    return work


def _run_threads(targets: list[Callable[[], None]]) -> None:
    """Start every target at once (barrier); re-raise the first failure."""
    barrier = threading.Barrier(len(targets))
    errors: list[BaseException] = []

    def run(target: Callable[[], None]) -> None:
        try:
            barrier.wait(timeout=30)
            target()
        except BaseException as e:  # collected and re-raised in the test's thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(t,), daemon=True) for t in targets]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=120)
    assert not any(th.is_alive() for th in threads), "a writer thread hung"
    if errors:
        raise errors[0]


class ConcurrencyTests:
    """Concurrent writers in different scopes."""

    @isolation
    def test_threads_sharing_a_handle_never_see_each_other(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        writers = _writers(ids, WORKERS)

        _run_threads([_rounds(store, w, writers) for w in writers])
        for w in writers:
            assert store.count_turns(w.scope) == ROUNDS
            assert store.count_memories(w.scope) == ROUNDS

    @isolation
    def test_threads_with_their_own_handles_never_see_each_other(
        self, store: MemoryStore, open_store: StoreOpener, ids: Ids
    ) -> None:
        writers = _writers(ids, 4)
        handles = [open_store() for _ in writers]

        _run_threads([_rounds(h, w, writers) for h, w in zip(handles, writers, strict=True)])
        for w in writers:
            assert ids_of(store.list_turns(w.scope)) == w.turns
            assert sorted(ids_of(store.list_memories(w.scope))) == sorted(w.memories)

    @isolation
    @pytest.mark.asyncio
    async def test_async_tasks_never_see_each_other(
        self, astore: AsyncStore | None, store: MemoryStore, ids: Ids
    ) -> None:
        if astore is None:
            assert Capability.ASYNC not in store.capabilities, (
                "the store declares ASYNC but has no a* methods"
            )
            return
        writers = _writers(ids, 8)

        async def work(w: Writer) -> None:
            for n in range(ROUNDS):
                t = turn(w.scope, f"falcon {n}", embedding=vec(1, n / 10))
                m = memory(w.scope, f"falcon {n}", embedding=vec(1, n / 10))
                await astore.aappend_turns([t])
                await astore.aput_memories([m])
                w.turns.append(t.id)
                w.memories.append(m.id)
                assert ids_of(await astore.alist_turns(w.scope)) == w.turns
                assert await astore.acount_memories(w.scope) == len(w.memories)
                for kwargs, declared in searches(astore):
                    if declared:
                        hits = await astore.asearch_memories(w.scope, limit=50, **kwargs)
                        assert_memory_hits(hits, w.scope, set(w.memories), limit=50)
                await asyncio.sleep(0)

        await asyncio.gather(*(work(w) for w in writers))
        for w in writers:
            assert store.count_turns(w.scope) == ROUNDS
