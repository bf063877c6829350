"""Pinned memories of a scope, read for every call and kept briefly.

Every intercepted call injects the pinned memories its scope sees (the visibility
rules of recall), current and not expired, oldest first. A store that selects them
itself (``memori.core.SupportsListPinned``: SQLite, PostgreSQL, MongoDB) is read on
every call (``ttl`` 0), so a pin made by any process shows on the next call. Any other store is
read whole, so what it returns is kept for ``ttl`` seconds per (entity, persona), as
session history is: a change made through this ``Memori`` (pin, unpin, edit, delete,
forget) drops the entity's entry at once; one made by another process shows within
``ttl``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from memori.core import Memory, Scope

Key = tuple[str, str | None]


class PinnedCache:
    """The pinned memories per (entity, persona), read through ``load``."""

    def __init__(self, load: Callable[[Scope], list[Memory]], *, ttl: float = 5.0,
                 max_entries: int = 4096) -> None:
        self._load = load
        self.ttl = ttl
        self.max_entries = max_entries
        self._entries: dict[Key, tuple[float, list[Memory]]] = {}
        self._lock = threading.Lock()

    def pinned(self, scope: Scope) -> list[Memory]:
        """The scope's pinned memories that have not expired, oldest first."""
        key = (scope.entity_id, scope.process_id)
        clock = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        if entry is None or clock - entry[0] >= self.ttl:
            found = [m for m in self._load(Scope(scope.entity_id, scope.process_id)) if m.pinned]
            found.sort(key=lambda m: (m.created_at, m.id))
            entry = (clock, found)
            if self.ttl > 0:
                with self._lock:
                    if len(self._entries) >= self.max_entries:
                        self._entries.clear()
                    self._entries[key] = entry
        at = time.time()
        return [m for m in entry[1] if not m.expired(at)]

    def fresh(self, scope: Scope) -> list[Memory] | None:
        """The pinned memories if they were read less than ``ttl`` ago, else None (no I/O)."""
        with self._lock:
            entry = self._entries.get((scope.entity_id, scope.process_id))
        if entry is None or time.monotonic() - entry[0] >= self.ttl:
            return None
        at = time.time()
        return [m for m in entry[1] if not m.expired(at)]

    def drop_entity(self, entity_id: str) -> None:
        with self._lock:
            for key in [k for k in self._entries if k[0] == entity_id]:
                del self._entries[key]
