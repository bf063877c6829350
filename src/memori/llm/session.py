"""Recent turns per (entity, persona, session), kept in process so each call reads them fast.

Turns recorded by this process are added the moment they are queued, before
the write-behind recorder stores them, so the next call already sees them (for
injection and for telling new messages from re-sent ones). An entry is reloaded
from the store when older than ``ttl`` seconds (other processes may write to the
same session) and merged by turn id with what this process queued. Entries are
keyed by the whole scope, so one entity's turns can never be served to another.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from memori.core import Scope, Turn

Key = tuple[str, str | None, str | None]


@dataclass
class _Entry:
    turns: list[Turn]
    loaded_at: float


class SessionCache:
    """A bounded LRU of recent turns per session; thread-safe."""

    def __init__(
        self, load: Callable[[Scope, int], list[Turn]], *,
        max_turns: int = 40, max_sessions: int = 2048, ttl: float = 5.0,
        on_drop_entity: Callable[[str], None] | None = None,
    ) -> None:
        self._load = load
        self._on_drop_entity = on_drop_entity
        self.max_turns = max_turns
        self.max_sessions = max_sessions
        self.ttl = ttl
        self._lock = threading.Lock()
        self._entries: OrderedDict[Key, _Entry] = OrderedDict()

    @staticmethod
    def key(scope: Scope) -> Key:
        return (scope.entity_id, scope.process_id, scope.session_id)

    def fresh(self, scope: Scope) -> list[Turn] | None:
        """The session's latest turns if cached and fresh, else None (never reads the store)."""
        with self._lock:
            entry = self._entries.get(self.key(scope))
            if entry is None or time.monotonic() - entry.loaded_at >= self.ttl:
                return None
            self._entries.move_to_end(self.key(scope))
            return list(entry.turns)

    def recent(self, scope: Scope) -> list[Turn]:
        """The session's latest turns, oldest first (may read the store: call off the loop)."""
        cached = self.fresh(scope)
        if cached is not None:
            return cached
        key = self.key(scope)
        stored = self._load(scope, self.max_turns)
        with self._lock:
            entry = self._entries.get(key)
            merged = self._merge(stored, entry.turns if entry else [])
            self._entries[key] = _Entry(merged, time.monotonic())
            self._entries.move_to_end(key)
            self._evict()
            return list(merged)

    def add(self, scope: Scope, turns: Sequence[Turn]) -> None:
        """Add turns this process just queued (not yet stored, perhaps) to the session."""
        if not turns:
            return
        key = self.key(scope)
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:  # evicted meanwhile: keep the turns, reload the rest next time
                self._entries[key] = _Entry(self._merge(turns, ()), float("-inf"))
                self._evict()
            else:
                entry.turns = self._merge(entry.turns, turns)

    def drop_entity(self, entity_id: str) -> None:
        """Forget every cached session of an entity (after ``mem.forget``), and what
        ``on_drop_entity`` keeps about it."""
        with self._lock:
            for key in [k for k in self._entries if k[0] == entity_id]:
                del self._entries[key]
        if self._on_drop_entity is not None:
            self._on_drop_entity(entity_id)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def _merge(self, first: Sequence[Turn], second: Sequence[Turn]) -> list[Turn]:
        by_id = {t.id: t for t in first}
        by_id.update((t.id, t) for t in second if t.id not in by_id)
        merged = sorted(by_id.values(), key=lambda t: t.created_at)
        return merged[-self.max_turns :]

    def _evict(self) -> None:
        while len(self._entries) > self.max_sessions:
            self._entries.popitem(last=False)
