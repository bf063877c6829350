"""Isolation: memories are seen, found, changed and deleted only where the contract allows.

Under ``Scope(E, P)`` a memory is visible when it belongs to E and has persona P,
no persona, or is shared; superseded ones only with ``include_superseded``.
Checked through every path that takes a scope: get, list, count, search, update,
delete, and export.
"""

from __future__ import annotations

from memori.conformance.base import Ids
from memori.conformance.checks import assert_memory_hits, assert_only_entity
from memori.conformance.guard import isolation
from memori.conformance.worlds import attempt, build_memory_world, exact, searches
from memori.core import MemoryStore, Scope


class MemoryVisibilityTests:
    """Entity, persona and shared-memory rules on every memory path."""

    @isolation
    def test_memory_reads_respect_entity_and_persona(self, store: MemoryStore, ids: Ids) -> None:
        world = build_memory_world(store, ids)
        for scope in world.scopes():
            for history in (False, True):
                want = world.expected(scope, history)
                listed = store.list_memories(scope, include_superseded=history)
                assert_only_entity(listed, world.entity, "list_memories")
                assert sorted(m.id for m in listed) == sorted(want), (
                    f"list_memories({scope}, include_superseded={history})"
                )
                assert store.count_memories(scope, include_superseded=history) == len(want), (
                    f"count_memories({scope}, include_superseded={history})"
                )
            for m in world.memories.values():
                got = store.get_memory(scope, m.id)
                if m.id in world.expected(scope, include_superseded=True):
                    assert got is not None, f"get_memory({scope}, {m.id!r}) missed it"
                    assert (got.entity_id, got.content) == (world.entity, m.content), (
                        f"LEAK: get_memory({scope}, {m.id!r}) returned another entity's memory"
                    )
                else:
                    assert got is None, (
                        f"LEAK: get_memory({scope}, {m.id!r}) returned a memory of "
                        f"(entity={got.entity_id!r}, process={got.process_id!r})"
                    )

    @isolation
    def test_memory_search_respects_entity_and_persona(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        world = build_memory_world(store, ids)
        for scope in world.scopes():
            for kwargs, declared in searches(store):
                for history in (False, True):
                    want = world.expected(scope, history)
                    hits = attempt(store.search_memories, declared, scope, limit=100,
                                   include_superseded=history, **kwargs)
                    if hits is None:
                        continue
                    assert_memory_hits(hits, scope, want, limit=100, include_superseded=history)
                    if declared and exact(store, kwargs):
                        assert {h.id for h in hits} == want, (
                            f"search_memories({scope}, {kwargs}, include_superseded={history}) "
                            "missed visible memories"
                        )

    @isolation
    def test_memory_update_reaches_only_visible_memories(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        world = build_memory_world(store, ids)
        expected_count = {m.id: 1 for m in world.memories.values()}
        for n, scope in enumerate(world.scopes(), start=2):
            visible = world.expected(scope, include_superseded=True)
            for m in world.memories.values():
                changed = store.update_memory(scope, m.id, {"count": n})
                assert changed is (m.id in visible), (
                    f"update_memory({scope}, {m.id!r}) returned {changed}; "
                    f"visible: {sorted(visible)}"
                )
                if changed:
                    expected_count[m.id] = n
        for m in world.memories.values():
            got = store.get_memory(Scope(world.entity, m.process_id), m.id)
            assert got is not None and got.count == expected_count[m.id], (
                f"memory {m.id!r} has count {got and got.count}, expected {expected_count[m.id]}"
            )
        for m in world.mirrored:
            got = store.get_memory(Scope(m.entity_id, m.process_id), m.id)
            assert got is not None and got.count == 1, (
                f"LEAK: update_memory under entity {world.entity!r} changed memory "
                f"{m.id!r} of entity {m.entity_id!r}"
            )

    @isolation
    def test_memory_delete_reaches_only_visible_memories(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        world = build_memory_world(store, ids)
        every_id = list(world.memories)
        remaining = set(every_id)
        for scope in world.scopes()[::-1]:
            visible = world.expected(scope, include_superseded=True) & remaining
            deleted = store.delete_memories(scope, every_id)
            assert deleted == len(visible), (
                f"delete_memories({scope}) deleted {deleted}, visible were {sorted(visible)}"
            )
            remaining -= visible
            left = {
                m.id for m in world.memories.values()
                if store.get_memory(Scope(world.entity, m.process_id), m.id) is not None
            }
            assert left == remaining, f"after delete_memories({scope}): left {sorted(left)}"
        for m in world.mirrored:
            assert store.get_memory(Scope(m.entity_id, m.process_id), m.id) is not None, (
                f"LEAK: delete_memories under {world.entity!r} deleted {m.id!r} of {m.entity_id!r}"
            )

    @isolation
    def test_export_holds_only_the_entity(self, store: MemoryStore, ids: Ids) -> None:
        world = build_memory_world(store, ids)
        records = list(store.export(world.entity))
        for r in records:
            assert r["entity_id"] == world.entity, (
                f"LEAK: export({world.entity!r}) holds {r['type']} {r['id']!r} of "
                f"entity {r['entity_id']!r}"
            )
        assert sorted(r["id"] for r in records if r["type"] == "memory") == sorted(world.memories)
        for e in world.neighbours:
            exported = list(store.export(e))
            assert {r["entity_id"] for r in exported} == {e}
            assert len(exported) == len(world.memories)
