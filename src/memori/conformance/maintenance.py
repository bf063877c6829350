"""Optional maintenance: ``admin_vacuum(full=...)`` (``memori purge``) keeps every live row.

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
from memori.core import Memory, MemoryStore, Scope, SupportsAdminVacuum, Turn

Item = TypeVar("Item", Turn, Memory)


def _by_id(items: Sequence[Item]) -> list[Item]:
    return sorted(items, key=lambda i: i.id)


class MaintenanceTests:
    """``admin_vacuum``, for stores that have it."""

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
