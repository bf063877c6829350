"""The fixtures every group uses: the backend's factory, opened stores and fresh ids.

A backend supplies ``make_store`` (a factory of un-set-up stores on the shared
test database) and optionally ``lifespan`` (one-time setup, class scoped). The
suite calls ``setup()`` itself and closes every store it opened.
"""

from __future__ import annotations

import warnings
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any, Protocol, cast

import pytest
import pytest_asyncio

from memori.conformance.data import DIM, fresh
from memori.core import AsyncMemoryStore, Capability, MemoryStore, SupportsRawCount
from memori.core.ids import check_id

StoreFactory = Callable[..., MemoryStore]
"""``factory(**options) -> MemoryStore``; the suite passes ``vector_dim=8``."""

ASYNC_METHODS = (
    "asetup", "aclose", "aappend_turns", "alist_turns", "acount_turns", "adelete_turns",
    "asearch_turns", "aput_memories", "aget_memory", "alist_memories", "acount_memories",
    "aupdate_memory", "adelete_memories", "asearch_memories", "aforget",
)


OPTIONAL_ASYNC_METHODS = ("aoutbox_pending", "aoutbox_parked", "aoutbox_mark")
"""Async twins a store may lack (callers fall back to a thread running the sync ones)."""


class AsyncStore(MemoryStore, AsyncMemoryStore, Protocol):
    """A store with the async twins (what the ``astore`` fixture yields)."""


class StoreOpener(Protocol):
    def __call__(self, *, setup: bool = True) -> MemoryStore: ...


class WeakerForgetCheck(UserWarning):
    """The store has no ``raw_count``: the suite counts an entity's items through
    ``scan``, so rows that no read path shows (index entries, outbox rows) go unseen."""


_warned: set[type] = set()


def raw_count(store: MemoryStore, entity_id: str) -> int:
    """The store's conformance hook ``raw_count`` when it has one, else the items
    ``scan`` finds (with one ``WeakerForgetCheck`` warning per store class in the run's
    output)."""
    if not isinstance(store, SupportsRawCount) and type(store) not in _warned:
        _warned.add(type(store))
        warnings.warn(
            f"{type(store).__name__} has no raw_count: forget and isolation checks count "
            "through scan(), which cannot see rows the public reads miss",
            WeakerForgetCheck, stacklevel=2,
        )
    if isinstance(store, SupportsRawCount):
        return store.raw_count(entity_id)
    check_id(entity_id, "entity_id")
    return sum(1 for _ in store.scan(entity_id))


def has_async_api(store: object) -> bool:
    """Whether the store offers the ``a*`` methods (declared or not, they are a read path)."""
    return any(callable(getattr(store, name, None)) for name in ASYNC_METHODS)


def requires(store: MemoryStore, *needed: Capability) -> None:
    """Skip an optional test when the store does not declare every capability in ``needed``."""
    missing = [c.value for c in needed if c not in store.capabilities]
    if missing:
        pytest.skip(f"store does not declare {', '.join(missing)}")


def search_modes(
    store: MemoryStore, text: str, vector: Sequence[float]
) -> list[dict[str, Any]]:
    """Keyword arguments of every search the store declares: text, vector, and both."""
    caps = store.capabilities
    modes: list[dict[str, Any]] = []
    if Capability.TEXT_SEARCH in caps:
        modes.append({"text": text})
    if Capability.VECTOR_SEARCH in caps:
        modes.append({"vector": vector})
    if Capability.TEXT_SEARCH in caps and Capability.VECTOR_SEARCH in caps:
        modes.append({"text": text, "vector": vector})
    return modes


class Ids:
    """Fresh entity ids for one test; the test's entities are forgotten afterwards."""

    def __init__(self, store: MemoryStore) -> None:
        self.store = store
        self.entities: list[str] = []

    def entity(self, entity_id: str | None = None) -> str:
        """A fresh entity id (or ``entity_id``, which must be fresh), checked to hold nothing."""
        e = entity_id if entity_id is not None else fresh("mc-e")
        assert raw_count(self.store, e) == 0, (
            f"fresh entity {e!r} is not empty: the database must not hold data under a new id"
        )
        self.entities.append(e)
        return e

    def cleanup(self) -> None:
        """Forget every entity of the test, so a shared database does not grow run by run."""
        for e in self.entities:
            try:
                self.store.forget(e)
            except Exception:  # cleanup only: the test itself already passed or failed
                continue


class ConformanceBase:
    """Fixtures shared by every group of the conformance suite.

    The subclass defines ``make_store`` (not here, so that its signature is free:
    sync or async fixture, asking for any other fixtures).
    """

    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls) -> Iterator[Any]:
        """One-time setup for the class (start a server, create a database): override it.

        Its value reaches ``make_store`` when that fixture asks for ``lifespan``.
        """
        yield None

    @pytest.fixture
    def open_store(self, make_store: StoreFactory, lifespan: Any) -> Iterator[StoreOpener]:
        """Open more handles on the shared database; all are closed after the test."""
        opened: list[MemoryStore] = []

        def open_(*, setup: bool = True) -> MemoryStore:
            store = make_store(vector_dim=DIM)
            opened.append(store)
            if setup:
                store.setup()
            return store

        yield open_
        for store in reversed(opened):
            store.close()

    @pytest.fixture
    def store(self, open_store: StoreOpener) -> MemoryStore:
        """A set-up store on the shared database."""
        return open_store()

    @pytest.fixture
    def ids(self, store: MemoryStore) -> Iterator[Ids]:
        ids = Ids(store)
        yield ids
        ids.cleanup()

    @pytest_asyncio.fixture
    async def astore(
        self, make_store: StoreFactory, lifespan: Any
    ) -> AsyncIterator[AsyncStore | None]:
        """A store set up and closed through its async API, or None when it has none."""
        store = make_store(vector_dim=DIM)
        if not has_async_api(store):
            store.close()
            yield None
            return
        astore = cast(AsyncStore, store)
        await astore.asetup()
        try:
            yield astore
        finally:
            await astore.aclose()
