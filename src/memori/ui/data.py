"""What the pages read from the store: entity summaries and one entity's items.

Everything goes through ``Memori`` and its store's ``scan`` (the export read). Reads of
one entity are ``scan(entity_id)``: they cannot return another entity's data.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from memori.core import Memory, Turn
from memori.core.summaries import Tally
from memori.ui.routing import NotFound


@dataclass
class SessionSummary:
    session_id: str
    process_id: str | None
    turns: int = 0
    first: float | None = None
    last: float | None = None


@dataclass
class EntitySummary:
    """An entity's counts (``tally``: memories, superseded, pinned, turns, last activity)
    and what it has under each persona and in each session."""

    entity_id: str
    personas: dict[str | None, list[int]] = field(default_factory=dict)
    """persona -> [memories, turns]"""
    sessions: dict[tuple[str | None, str], SessionSummary] = field(default_factory=dict)
    tally: Tally = field(default_factory=Tally)

    def add(self, item: Turn | Memory) -> None:
        self.tally.add(item)
        counts = self.personas.setdefault(item.process_id, [0, 0])
        if isinstance(item, Memory):
            counts[0] += 1
            return
        counts[1] += 1
        stamp = item.created_at
        session = self.sessions.setdefault((item.process_id, item.session_id),
                                           SessionSummary(item.session_id, item.process_id))
        session.turns += 1
        session.first = min(session.first or stamp, stamp)
        session.last = max(session.last or stamp, stamp)


def summarise(items: Iterable[Turn | Memory]) -> dict[str, EntitySummary]:
    """Entity summaries of scanned items, by entity id."""
    found: dict[str, EntitySummary] = {}
    for item in items:
        found.setdefault(item.entity_id, EntitySummary(item.entity_id)).add(item)
    return found


def entity_items(mem: Any, entity_id: str) -> tuple[list[Turn], list[Memory]]:
    """The entity's turns and memories (every persona); 404 when it has none."""
    turns: list[Turn] = []
    memories: list[Memory] = []
    for item in mem.store.scan(entity_id):
        if item.entity_id != entity_id:  # never shown on another entity's page
            continue
        (turns if isinstance(item, Turn) else memories).append(item)
    if not turns and not memories:
        raise NotFound(entity_id)
    return turns, memories


def find_memory(mem: Any, entity_id: str, memory_id: str) -> Memory:
    """The entity's memory ``memory_id`` as its own persona's scope sees it; 404 when
    the entity has no such memory (another entity's id included)."""
    for item in mem.store.scan(entity_id):
        if isinstance(item, Memory) and item.id == memory_id and item.entity_id == entity_id:
            found = mem.get_memory(memory_id, entity_id=entity_id, process_id=item.process_id)
            if found is None:
                break
            return found  # type: ignore[no-any-return]
    raise NotFound(memory_id)
