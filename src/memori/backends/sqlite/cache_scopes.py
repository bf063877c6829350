"""The visibility rules of ``memori.backends.sql.filters`` for the in-process sets.

Each scope selects a set's rows (a numpy mask) and re-checks an item before it is
returned (``admits``), so a hit that a cache got wrong is dropped, never returned.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from memori.backends.sqlite.audience import BoolArray
from memori.core.models import Memory, Turn


class Audiences(Protocol):
    """A set that can select the rows of a scope (``VectorSet``, ``ItemSet``)."""

    def memory_mask(self, process_id: str | None, include_superseded: bool) -> BoolArray: ...

    def turn_mask(self, process_id: str | None, session_id: str | None) -> BoolArray: ...


@dataclass(frozen=True)
class MemoryScope:
    """Memories of the entity: the persona's, no persona's, shared; superseded if asked."""

    entity_id: str
    process_id: str | None
    include_superseded: bool

    def mask(self, rows: Audiences) -> BoolArray:
        return rows.memory_mask(self.process_id, self.include_superseded)

    def admits(self, item: Turn | Memory) -> bool:
        return (
            isinstance(item, Memory) and item.entity_id == self.entity_id
            and (item.process_id is None or item.shared
                 or (self.process_id is not None and item.process_id == self.process_id))
            and (self.include_superseded or item.superseded_by is None)
        )


@dataclass(frozen=True)
class TurnScope:
    """Turns of the entity with exactly this persona (None: none) and, if given, session."""

    entity_id: str
    process_id: str | None
    session_id: str | None

    def mask(self, rows: Audiences) -> BoolArray:
        return rows.turn_mask(self.process_id, self.session_id)

    def admits(self, item: Turn | Memory) -> bool:
        return (
            isinstance(item, Turn) and item.entity_id == self.entity_id
            and item.process_id == self.process_id
            and (self.session_id is None or item.session_id == self.session_id)
        )


CacheScope = MemoryScope | TurnScope
