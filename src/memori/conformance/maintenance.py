"""Optional maintenance: ``admin_vacuum(full=...)`` (``memori purge``) keeps every live row;
``entity_counts`` (the inspector's entity list) counts what ``scan`` holds.

A store may offer ``admin_vacuum`` to reclaim what deletes leave on disk. Run
with and without ``full``, after a forget, it must leave nothing of the
forgotten entity and every turn and memory of the others exactly as they were.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import pytest

from memori.conformance.base import Ids, raw_count
from memori.conformance.checks import assert_same_memories, assert_same_turns
from memori.conformance.data import fresh, memory, turn, vec
from memori.core import Memory, MemoryStore, Scope, SupportsAdminVacuum, Turn, entity_counts
from memori.core.summaries import counted

Item = TypeVar("Item", Turn, Memory)


def _by_id(items: Sequence[Item]) -> list[Item]:
    return sorted(items, key=lambda i: i.id)


class MaintenanceTests:
    """``admin_vacuum``, for stores that have it; ``entity_counts``, for every store."""

    def test_entity_counts_are_what_a_scan_holds(self, store: MemoryStore, ids: Ids) -> None:
        """``entity_counts(store)`` (the store's own ``SupportsEntityCounts`` where it has
        it) gives each entity's current, superseded and pinned memories, turns, personas
        and sessions exactly as counting ``scan`` does."""
        a, b = ids.entity(), ids.entity()
        store.append_turns([turn(Scope(a, "p", "s1"), "t1"), turn(Scope(a, None, "s2"), "t2"),
                            turn(Scope(a, "p", "s1"), "t3"), turn(Scope(b, "q", "s1"), "t4")])
        memories = [memory(Scope(a, "p"), "m1", pinned=True), memory(Scope(a, None), "m2"),
                    memory(Scope(b, "q"), "m3")]
        store.put_memories(memories)
        assert store.update_memory(Scope(a, None), memories[1].id,
                                   {"superseded_by": memories[0].id})
        got = {c.entity_id: c for c in entity_counts(store) if c.entity_id in (a, b)}
        want = {c.entity_id: c for c in counted([*store.scan(a), *store.scan(b)])}
        assert got == want, f"entity_counts {got} against a scan's {want}"
        first = got[a]
        assert (first.memories, first.superseded, first.pinned, first.turns, first.personas,
                first.sessions) == (1, 1, 1, 3, 1, 2)

    def test_admin_vacuum_keeps_live_data_and_no_forgotten_row(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        if not isinstance(store, SupportsAdminVacuum):
            pytest.skip("store has no admin_vacuum")
        kept, gone = Scope(ids.entity(), "p", fresh("s")), Scope(ids.entity(), "p", fresh("s"))
        written = {}
        for scope in (kept, gone):
            turns = [turn(scope, f"falcon {i}", embedding=vec(1, i)) for i in range(3)]
            memories = [memory(scope, f"quartz {i}", embedding=vec(0, 1, i)) for i in range(3)]
            store.append_turns(turns)
            store.put_memories(memories)
            written[scope.entity_id] = (turns, memories)
        assert store.forget(gone.entity_id) == 6
        for full in (False, True):
            store.admin_vacuum(full=full)
            assert raw_count(store, gone.entity_id) == 0, f"admin_vacuum({full=}) revived rows"
            turns, memories = written[kept.entity_id]
            assert_same_turns(_by_id(store.list_turns(kept)), _by_id(turns))
            assert_same_memories(_by_id(store.list_memories(kept)), _by_id(memories))
