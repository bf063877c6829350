"""The visibility rules of ``memori.backends.sql.filters`` for the vector cache.

Each scope selects a VectorSet's rows (a numpy mask) and re-checks a fetched row
(``admits``), so a hit that the cache got wrong is dropped, never returned.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from memori.backends.sqlite.vector_set import BoolArray, VectorSet


@dataclass(frozen=True)
class MemoryScope:
    """Memories of the entity: the persona's, no persona's, shared; superseded if asked."""

    entity_id: str
    process_id: str | None
    include_superseded: bool

    def mask(self, vectors: VectorSet) -> BoolArray:
        return vectors.memory_mask(self.process_id, self.include_superseded)

    def admits(self, row: Mapping[str, Any]) -> bool:
        return (
            row["entity_id"] == self.entity_id
            and (row["process_id"] is None or bool(row["shared"])
                 or (self.process_id is not None and row["process_id"] == self.process_id))
            and (self.include_superseded or row["superseded_by"] is None)
        )


@dataclass(frozen=True)
class TurnScope:
    """Turns of the entity with exactly this persona (None: none) and, if given, session."""

    entity_id: str
    process_id: str | None
    session_id: str | None

    def mask(self, vectors: VectorSet) -> BoolArray:
        return vectors.turn_mask(self.process_id, self.session_id)

    def admits(self, row: Mapping[str, Any]) -> bool:
        return (
            row["entity_id"] == self.entity_id
            and row["process_id"] == self.process_id
            and (self.session_id is None or row["session_id"] == self.session_id)
        )


CacheScope = MemoryScope | TurnScope
