"""Required: the protocol's shape, and setup that is idempotent and safe on a shared database.

``setup()`` creates or checks the schema (running migrations where the backend
has them); it may run again on the same handle, from another handle, or from
several handles at once, on a database already holding other data.
"""

from __future__ import annotations

import inspect
import threading

from memori.conformance.base import (
    ASYNC_METHODS,
    OPTIONAL_ASYNC_METHODS,
    Ids,
    StoreOpener,
    has_async_api,
)
from memori.conformance.data import DIM, fresh, memory, turn
from memori.core import Capability, MemoryStore, Scope, SupportsLocalReads, reads_locally


def _seed(store: MemoryStore, entity_id: str) -> tuple[str, str]:
    scope = Scope(entity_id, "p", fresh("s"))
    t, m = turn(scope, "kept across setups"), memory(scope, "kept across setups")
    store.append_turns([t])
    store.put_memories([m])
    return t.id, m.id


def _holds(store: MemoryStore, entity_id: str, seeded: tuple[str, str]) -> bool:
    scope = Scope(entity_id, "p")
    return (
        [t.id for t in store.list_turns(scope)] == [seeded[0]]
        and store.get_memory(scope, seeded[1]) is not None
    )


class LifecycleTests:
    """What a store is, and setting it up more than once."""

    def test_store_has_the_protocol_shape(self, store: MemoryStore) -> None:
        assert isinstance(store, MemoryStore), "the store lacks methods of the MemoryStore protocol"
        assert isinstance(store.name, str) and store.name
        assert store.vector_dim == DIM, f"the store ignored the vector_dim={DIM} option"
        if Capability.ASYNC in store.capabilities or has_async_api(store):
            for name in ASYNC_METHODS:
                assert inspect.iscoroutinefunction(getattr(store, name, None)), (
                    f"{name} must be an async method"
                )
            for name in OPTIONAL_ASYNC_METHODS:
                method = getattr(store, name, None)
                assert method is None or inspect.iscoroutinefunction(method), (
                    f"{name} must be an async method"
                )
            assert Capability.ASYNC in store.capabilities, "a* methods exist: declare ASYNC"

    def test_a_store_that_reads_locally_says_so_plainly(self, store: MemoryStore) -> None:
        """``reads_locally()`` (``SupportsLocalReads``, optional) answers True or False,
        the same each time, without a read: the LLM path asks it on every call."""
        if not isinstance(store, SupportsLocalReads):
            assert reads_locally(store) is False
            return
        answer = store.reads_locally()
        assert answer in (True, False) and isinstance(answer, bool)
        assert store.reads_locally() is answer and reads_locally(store) is answer

    def test_setup_again_on_the_same_handle_keeps_data(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        e = ids.entity()
        seeded = _seed(store, e)
        store.setup()
        store.setup()
        assert _holds(store, e, seeded)

    def test_setup_of_a_new_handle_on_a_non_empty_database(
        self, store: MemoryStore, open_store: StoreOpener, ids: Ids
    ) -> None:
        e = ids.entity()
        seeded = _seed(store, e)
        other = open_store()
        assert _holds(other, e, seeded), "a second handle does not see the first one's data"
        e2 = ids.entity()
        later = _seed(other, e2)
        assert _holds(store, e2, later), "the first handle does not see the second one's data"
        assert _holds(store, e, seeded)

    def test_concurrent_setup_from_several_handles(
        self, store: MemoryStore, open_store: StoreOpener, ids: Ids
    ) -> None:
        e = ids.entity()
        seeded = _seed(store, e)
        handles = [open_store(setup=False) for _ in range(3)]
        barrier = threading.Barrier(len(handles))
        errors: list[BaseException] = []

        def setup(h: MemoryStore) -> None:
            try:
                barrier.wait(timeout=30)
                h.setup()
            except BaseException as exc:  # re-raised below, in the test's thread
                errors.append(exc)

        threads = [threading.Thread(target=setup, args=(h,), daemon=True) for h in handles]
        for th in threads:
            th.start()
        for th in threads:
            th.join(timeout=120)
        if errors:
            raise errors[0]
        for h in handles:
            assert _holds(h, e, seeded)

    def test_reopen_after_close_keeps_data(
        self, store: MemoryStore, open_store: StoreOpener, ids: Ids
    ) -> None:
        e = ids.entity()
        first = open_store()
        seeded = _seed(first, e)
        first.close()
        assert _holds(open_store(), e, seeded)

    def test_close_is_idempotent(self, open_store: StoreOpener) -> None:
        s = open_store()
        s.close()
        s.close()
