"""The SQLite store's in-process caches: one set per (kind, entity), bounded, LRU.

A set (a ``VectorSet`` or an ``ItemSet``) is built from one scan of the entity's
rows and labelled with the entity version read before the scan (revision 0004);
the store brings it forward by re-reading the items the change log names (see
``entity_cache``). Memory is bounded by ``max_items`` rows held across sets:
least recently used sets go first, and a set may hold at most half the bound,
so an entity's turns and memories never evict each other search after search.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

from memori.backends.sqlite.versions import CHANGE_LOG_KEEP, KINDS, Key, Kind


class CachedSet(Protocol):
    """What the cache needs of a set: its size and the entity version it matches."""

    version: int
    lock: threading.Lock

    def __len__(self) -> int: ...


S = TypeVar("S", bound=CachedSet)

OVERSIZED_KEYS = 1024
"""How many (kind, entity) keys too large to cache are remembered (to skip rescans)."""


class SetCache(Generic[S]):
    """Sets by (kind, entity) under a bound of ``max_items`` rows held (LRU)."""

    def __init__(self, max_items: int, *, admit_after: int = 0) -> None:
        """``admit_after``: requests for a key answered without a set (the caller
        searches in SQL) before one is built for it."""
        self.max_items = max_items
        self.admit_after = admit_after
        self._requests: OrderedDict[Key, int] = OrderedDict()
        self._lock = threading.Lock()
        self._sets: OrderedDict[Key, S] = OrderedDict()
        self._sizes: dict[Key, int] = {}
        self._total = 0
        self._oversized: OrderedDict[Key, tuple[int, int]] = OrderedDict()
        self.builds = 0
        """Sets built from a scan so far."""
        self.catch_ups = 0
        """Sets brought forward from the change log so far."""
        self.discards = 0
        """Entities dropped so far (``forget``): a set whose build started before the
        last one may hold a forgotten entity's rows, so ``put`` refuses it."""

    def get(self, key: Key) -> S | None:
        """The set cached for ``key`` (at whatever version: the caller checks it)."""
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
            return found

    def put(self, key: Key, found: S, *, discards: int | None = None) -> bool:
        """Cache a freshly built set (replacing any other); False when it is too big,
        or when an entity was discarded since ``discards`` was read (before the build)."""
        with self._lock:
            if discards is not None and discards != self.discards:
                return False
            self.builds += 1
            if len(found) > self.max_items // 2:
                self._drop(key)
                self._oversized[key] = (found.version, len(found))
                self._oversized.move_to_end(key)
                while len(self._oversized) > OVERSIZED_KEYS:
                    self._oversized.popitem(last=False)
                return False
            self._oversized.pop(key, None)
            self._sets[key] = found
            self._sets.move_to_end(key)
            self._resize(key, len(found))
            return True

    def caught_up(self, key: Key, found: S) -> None:
        """Account for a set brought forward in place (its size may have changed)."""
        with self._lock:
            self.catch_ups += 1
            if self._sets.get(key) is found:
                self._resize(key, len(found))

    def admit(self, key: Key) -> bool:
        """Count a request for ``key``, which has no set; True once a set may be built
        (after ``admit_after`` earlier requests), so one-off searches stay in SQL."""
        if self.admit_after <= 0:
            return True
        with self._lock:
            seen = self._requests.pop(key, 0) + 1
            if seen > self.admit_after:
                return True
            self._requests[key] = seen
            while len(self._requests) > OVERSIZED_KEYS:
                self._requests.popitem(last=False)
            return False

    def oversized(self, key: Key, version: int) -> bool:
        """Whether ``key`` is known to be too big to cache at ``version``.

        Each change adds at most one row, so a set too big by more than the number of
        changes since it was measured is still too big (no scan needed to tell).
        """
        with self._lock:
            known = self._oversized.get(key)
            if known is None:
                return False
            then, size = known
            since = version - then
            if since == 0:
                return True
            if 0 < since <= CHANGE_LOG_KEEP and size - since > self.max_items // 2:
                self._oversized[key] = (version, size - since)
                return True
            return False

    def discard(self, entity_id: str, kinds: Sequence[Kind] = KINDS) -> None:
        """Drop the entity's sets (of ``kinds``) and everything noted about them."""
        with self._lock:
            self.discards += 1
            for kind in kinds:
                self._drop((kind, entity_id))
                self._oversized.pop((kind, entity_id), None)
                self._requests.pop((kind, entity_id), None)

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()
            self._sizes.clear()
            self._oversized.clear()
            self._requests.clear()
            self._total = 0

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "max_items": self.max_items,
                "sets": len(self._sets),
                "items": self._total,
                "builds": self.builds,
                "catch_ups": self.catch_ups,
            }

    # under self._lock

    def _drop(self, key: Key) -> None:
        if self._sets.pop(key, None) is not None:
            self._total -= self._sizes.pop(key, 0)

    def _resize(self, key: Key, size: int) -> None:
        self._total += size - self._sizes.get(key, 0)
        self._sizes[key] = size
        while self._total > self.max_items and len(self._sets) > 1:
            oldest = next(iter(self._sets))
            if oldest == key:
                self._sets.move_to_end(key)
                oldest = next(iter(self._sets))
            self._drop(oldest)
