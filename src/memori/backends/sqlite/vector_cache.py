"""The SQLite store's in-process vector cache: a VectorSet per (kind, entity), bounded.

A set is built from one scan of the entity's vectors and labelled with the entity
version read before the scan (revision 0004). A search uses it only while the
database still holds that version; the store's own writes bring it forward (the
change is applied when the set was current just before the write), and any
other writer changes the version, so the next search scans again.
Memory is bounded by ``max_items`` vectors held (about ``max_items * dim * 4``
bytes, plus the slack sets keep for appends): least recently used sets go first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from memori.backends.sqlite.vector_set import VectorRow, VectorSet
from memori.backends.sqlite.versions import KINDS, Key, Kind

OVERSIZED_KEYS = 1024
"""How many (kind, entity) keys too large to cache are remembered (to skip rescans)."""


def turn_vector_row(row: Mapping[Any, Any]) -> VectorRow:
    """The cached part of a turn's column values."""
    return VectorRow(row["id"], float(row["created_at"]), row["process_id"],
                     row["session_id"], False, False, row["embedding"])


def memory_vector_row(row: Mapping[Any, Any]) -> VectorRow:
    """The cached part of a memory's column values."""
    return VectorRow(row["id"], float(row["created_at"]), row["process_id"], None,
                     bool(row["shared"]), row["superseded_by"] is not None, row["embedding"])


@dataclass
class Change:
    """What one write transaction did to the rows of one (kind, entity)."""

    upserts: list[VectorRow] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)


class Changes:
    """The changes of one write transaction and the entity versions around it."""

    def __init__(self) -> None:
        self.by_key: dict[Key, Change] = {}
        self.entities: set[str] = set()
        self.before: dict[Key, int] = {}
        self.after: dict[Key, int] = {}
        self.forgotten: set[str] = set()

    def _change(self, kind: Kind, entity_id: str) -> Change:
        self.entities.add(entity_id)
        return self.by_key.setdefault((kind, entity_id), Change())

    def upsert(self, kind: Kind, entity_id: str, rows: Iterable[VectorRow]) -> None:
        self._change(kind, entity_id).upserts.extend(rows)

    def remove(self, kind: Kind, entity_id: str, ids: Iterable[str]) -> None:
        self._change(kind, entity_id).removed.extend(ids)

    def forget(self, entity_id: str) -> None:
        self.entities.add(entity_id)
        self.forgotten.add(entity_id)


class VectorCache:
    """VectorSets by (kind, entity) under a bound of ``max_items`` vectors (LRU)."""

    def __init__(self, max_items: int) -> None:
        self.max_items = max_items
        self._lock = threading.Lock()
        self._sets: OrderedDict[Key, VectorSet] = OrderedDict()
        self._sizes: dict[Key, int] = {}
        self._total = 0
        self._oversized: OrderedDict[Key, int] = OrderedDict()
        self.builds = 0
        """Sets built from a scan so far (tests and benchmarks read it)."""

    def get(self, key: Key) -> VectorSet | None:
        """The set cached for ``key`` (at whatever version: the caller checks it)."""
        with self._lock:
            found = self._sets.get(key)
            if found is not None:
                self._sets.move_to_end(key)
            return found

    def put(self, key: Key, vectors: VectorSet) -> bool:
        """Cache a freshly built set (replacing any other); False when it is too big.

        A set may hold at most half the bound, so an entity's turns and memories never
        evict each other search after search.
        """
        with self._lock:
            self.builds += 1
            if len(vectors) > self.max_items // 2:
                self._drop(key)
                self._oversized[key] = vectors.version
                self._oversized.move_to_end(key)
                while len(self._oversized) > OVERSIZED_KEYS:
                    self._oversized.popitem(last=False)
                return False
            self._oversized.pop(key, None)
            self._sets[key] = vectors
            self._sets.move_to_end(key)
            self._resize(key, len(vectors))
            return True

    def oversized(self, key: Key, version: int) -> bool:
        """Whether ``key`` was too big to cache at this very version."""
        with self._lock:
            return self._oversized.get(key) == version

    def discard(self, entity_id: str) -> None:
        """Drop every set of the entity."""
        with self._lock:
            for kind in KINDS:
                self._drop((kind, entity_id))
                self._oversized.pop((kind, entity_id), None)

    def clear(self) -> None:
        with self._lock:
            self._sets.clear()
            self._sizes.clear()
            self._oversized.clear()
            self._total = 0

    def apply(self, changes: Changes) -> None:
        """Bring cached sets forward over one committed write, or drop what cannot be."""
        for entity_id in changes.forgotten:
            self.discard(entity_id)
        for entity_id in changes.entities - changes.forgotten:
            for kind in KINDS:
                key = (kind, entity_id)
                before, after = changes.before.get(key), changes.after.get(key)
                if before != after:
                    self._advance(key, before, after, changes.by_key.get(key))

    def _advance(
        self, key: Key, before: int | None, after: int | None, change: Change | None
    ) -> None:
        vectors = self.get(key)
        if vectors is None:
            return
        with vectors.lock:
            if vectors.version != before or after is None or change is None:
                self._drop_if(key, vectors)
                return
            vectors.upsert(change.upserts)
            vectors.remove(change.removed)
            vectors.version = after
            size = len(vectors)
        with self._lock:
            if self._sets.get(key) is vectors:
                self._resize(key, size)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {
                "max_items": self.max_items,
                "sets": len(self._sets),
                "items": self._total,
                "builds": self.builds,
            }

    # under self._lock

    def _drop(self, key: Key) -> None:
        if self._sets.pop(key, None) is not None:
            self._total -= self._sizes.pop(key, 0)

    def _drop_if(self, key: Key, vectors: VectorSet) -> None:
        with self._lock:
            if self._sets.get(key) is vectors:
                self._drop(key)

    def _resize(self, key: Key, size: int) -> None:
        self._total += size - self._sizes.get(key, 0)
        self._sizes[key] = size
        while self._total > self.max_items and len(self._sets) > 1:
            oldest = next(iter(self._sets))
            if oldest == key:
                self._sets.move_to_end(key)
                oldest = next(iter(self._sets))
            self._drop(oldest)
