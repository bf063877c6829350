"""Per-entity counts (the admin's entity list), counted by the store where it can.

The memory inspector's first page lists every entity with its counts and last
activity. Counting a scan reads every row of every entity: 36 s for 1,000,000
memories of 50,000 entities on SQLite and 103 s on PostgreSQL, on every load of the
page (0.7 s on either with their aggregate queries, ``benchmarks/bench_tenants.py``).
A store that counts in its database (:class:`SupportsEntityCounts`: SQLite,
PostgreSQL, MongoDB) answers with a few aggregate queries; any other store is scanned
(``scan``), which gives the same counts. Standard library only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from memori.core.conforms import conforms
from memori.core.models import Memory, Turn


@dataclass(frozen=True)
class EntityCounts:
    """What the store holds of one entity."""

    entity_id: str
    memories: int
    """Current memories (not superseded), expired ones included."""
    superseded: int
    pinned: int
    """Memories with ``pinned`` set, superseded ones included."""
    turns: int
    personas: int
    """Distinct personas (``process_id``, not None) of its turns and memories."""
    sessions: int
    """Distinct (persona, session) pairs of its turns."""
    last: float | None
    """The latest ``created_at`` of a turn, or ``created_at`` or ``updated_at`` of a memory."""


@runtime_checkable
class SupportsEntityCounts(Protocol):
    """A store that counts every entity's rows itself (exactly what a scan would count)."""

    def entity_counts(self) -> list[EntityCounts]: ...


def entity_counts(store: Any) -> list[EntityCounts]:
    """Every entity's counts, in no particular order: the store's own when it has them,
    else from ``store.scan()``."""
    if conforms(store, SupportsEntityCounts):
        return list(store.entity_counts())
    return counted(store.scan())


def merged(
    memories: Mapping[str, tuple[int, int, int, float | None]],
    turns: Mapping[str, tuple[int, float | None]],
    sessions: Mapping[str, int], personas: Mapping[str, int],
) -> list[EntityCounts]:
    """Every entity's counts from a store's per-entity aggregates: ``memories`` (current,
    superseded, pinned, latest change), ``turns`` (count, latest), ``sessions`` and
    ``personas`` (distinct counts); an entity missing from one has none of it."""
    out = []
    for entity in memories.keys() | turns.keys():
        current, superseded, pinned, memory_last = memories.get(entity, (0, 0, 0, None))
        turn_count, turn_last = turns.get(entity, (0, None))
        stamps = [float(s) for s in (memory_last, turn_last) if s is not None]
        out.append(EntityCounts(entity, current, superseded, pinned, turn_count,
                                personas.get(entity, 0), sessions.get(entity, 0),
                                max(stamps) if stamps else None))
    return out


def counted(items: Iterable[Turn | Memory]) -> list[EntityCounts]:
    """The counts of scanned items, by entity."""
    tallies: dict[str, Tally] = {}
    for item in items:
        tally = tallies.get(item.entity_id)
        if tally is None:
            tally = tallies[item.entity_id] = Tally()
        tally.add(item)
    return [tally.counts(entity) for entity, tally in tallies.items()]


class Tally:
    """One entity's counts as items are added (``counts`` gives them)."""

    __slots__ = ("last", "memories", "personas", "pinned", "sessions", "superseded", "turns")

    def __init__(self) -> None:
        self.memories = self.superseded = self.pinned = self.turns = 0
        self.personas: set[str] = set()
        self.sessions: set[tuple[str | None, str]] = set()
        self.last: float | None = None

    def add(self, item: Turn | Memory) -> None:
        if item.process_id is not None:
            self.personas.add(item.process_id)
        stamp = item.created_at
        if isinstance(item, Turn):
            self.turns += 1
            self.sessions.add((item.process_id, item.session_id))
        else:
            if item.superseded_by is None:
                self.memories += 1
            else:
                self.superseded += 1
            self.pinned += int(item.pinned)
            stamp = max(stamp, item.updated_at or stamp)
        self.last = stamp if self.last is None else max(self.last, stamp)

    def counts(self, entity_id: str) -> EntityCounts:
        return EntityCounts(entity_id, self.memories, self.superseded, self.pinned,
                            self.turns, len(self.personas), len(self.sessions), self.last)
