"""Reading a scope's pinned memories, derived from ``list_memories`` unless the store is faster.

Every intercepted call injects the pinned memories its scope sees, so they are read
on every call. ``list_pinned(store, scope)`` returns them: the current (not
superseded) memories visible to the scope whose ``pinned`` is set, oldest first,
expired ones included (the caller filters by the clock). A store that can select
them itself (``WHERE pinned``) implements :class:`SupportsListPinned` with exactly
that result; any other store is read whole through ``list_memories``. Standard
library only.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

from memori.core.conforms import conforms
from memori.core.models import Memory, Scope


@runtime_checkable
class SupportsListPinned(Protocol):
    """A store that selects a scope's pinned memories itself."""

    def list_pinned(self, scope: Scope) -> list[Memory]: ...


def list_pinned(store: Any, scope: Scope) -> list[Memory]:
    """The scope's current pinned memories, oldest first (the store's own read if it has one)."""
    if conforms(store, SupportsListPinned):
        found = list(store.list_pinned(scope))
    else:
        found = [m for m in store.list_memories(scope) if m.pinned]
    found.sort(key=lambda m: (m.created_at, m.id))
    return found
