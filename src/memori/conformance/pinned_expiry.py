"""Pinned memories and expiry: the two fields round-trip, patch, and the sweep.

A store keeps ``pinned`` and ``expires_at`` like any other field of a memory: every
read (``get_memory``, ``list_memories``, ``scan``, search hits, export) returns them
as written or patched. The store does not read the clock: an expired memory is
returned until a sweep removes it (memori leaves it out of recall at read time).
``sweep_expired(at)`` (the store's own, or the one derived from scan + delete)
removes exactly the memories of every entity whose ``expires_at`` is at or before
``at``, superseded and persona ones too, with their index entries and vectors.
``list_pinned(store, scope)`` (the store's own, or derived from ``list_memories``)
returns exactly the current pinned memories the scope sees, oldest first.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from memori.conformance.base import AsyncStore, Ids
from memori.conformance.data import fresh, memory, turn, vec
from memori.conformance.guard import isolation
from memori.conformance.worlds import attempt, neighbours_of, searches
from memori.core import (
    Memory,
    MemoryStore,
    Scope,
    asweep_expired,
    list_pinned,
    sweep_expired,
)
from memori.core.records import to_record

AT = 1_000_000.0
"""The sweep's moment: long past, so nothing another test writes expires by it."""


@dataclass
class ExpiryWorld:
    entity: str
    memories: list[Memory]
    neighbours: list[str]

    def expired(self) -> set[str]:
        return {m.id for m in self.memories if m.expires_at is not None and m.expires_at <= AT}


def build_expiry_world(store: MemoryStore, ids: Ids) -> ExpiryWorld:
    """Memories of every persona rule that expire before, exactly at, after, or never;
    superseded, pinned and shared among them; one turn (turns never expire)."""
    e, p = ids.entity(), fresh("p")
    memories: list[Memory] = []
    for persona in (None, p, p + "%"):
        scope = Scope(e, persona)
        newest = memory(scope, "falcon newest", expires_at=AT + 10, embedding=vec(1, 1))
        memories += [
            memory(scope, "falcon long gone", expires_at=AT - 500, embedding=vec(1)),
            memory(scope, "falcon gone right now", expires_at=AT, pinned=True),
            memory(scope, "falcon old and gone", expires_at=AT - 1, superseded_by=newest.id),
            newest,
            memory(scope, "falcon forever", pinned=True, embedding=vec(0, 1)),
        ]
        if persona is not None:
            memories.append(memory(scope, "falcon shared gone", shared=True, expires_at=AT - 2))
    world = ExpiryWorld(e, memories, neighbours_of(e, ids))
    store.append_turns([turn(Scope(e, p, fresh("s")), "falcon said")])
    store.put_memories(memories)
    for n in world.neighbours:
        store.put_memories([replace(m, entity_id=n) for m in memories])
    return world


def check_exactly_the_expired_went(store: MemoryStore, world: ExpiryWorld, removed: int) -> None:
    gone = world.expired()
    entities = [world.entity, *world.neighbours]
    assert removed == len(gone) * len(entities), (
        f"sweep_expired returns how many memories it removed: {removed} != "
        f"{len(gone) * len(entities)}")
    for e in entities:
        left = {i.id for i in store.scan(e) if isinstance(i, Memory)}
        assert left == {m.id for m in world.memories} - gone, (
            f"entity {e!r}: swept {sorted({m.id for m in world.memories} - gone - left)} "
            f"that had not expired; kept {sorted(left & gone)} that had")
    for persona in (None, *(m.process_id for m in world.memories)):
        scope = Scope(world.entity, persona)
        for kwargs, declared in searches(store):
            hits = attempt(store.search_memories, declared, scope, include_superseded=True,
                           **kwargs) or []
            assert not {h.id for h in hits} & gone, f"a search under {scope} finds swept memories"


class PinnedExpiryTests:
    """``pinned`` and ``expires_at`` are stored; the sweep removes exactly what expired."""

    def test_pinned_and_expires_at_round_trip(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity(), fresh("p"))
        pinned = memory(scope, "falcon pinned until", pinned=True, expires_at=AT + 123.5)
        plain = memory(scope, "falcon plain")
        store.put_memories([pinned, plain])
        for m in (pinned, plain):
            got = store.get_memory(scope, m.id)
            assert got is not None and (got.pinned, got.expires_at) == (m.pinned, m.expires_at)
        listed = {m.id: (m.pinned, m.expires_at) for m in store.list_memories(scope)}
        assert listed == {pinned.id: (True, AT + 123.5), plain.id: (False, None)}
        scanned = {i.id: (i.pinned, i.expires_at) for i in store.scan(scope.entity_id)
                   if isinstance(i, Memory)}
        assert scanned == listed
        for kwargs, declared in searches(store):
            if not declared or "text" not in kwargs:
                continue
            for hit in store.search_memories(scope, limit=10, **kwargs):
                assert isinstance(hit.item, Memory)
                assert (hit.item.pinned, hit.item.expires_at) == listed[hit.id], (
                    "search hits carry pinned and expires_at (recall filters expired hits)")
        records = {r["id"]: (r["pinned"], r["expires_at"])
                   for r in store.export(scope.entity_id) if r["type"] == "memory"}
        assert records == listed

    def test_update_memory_patches_pinned_and_expires_at(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        scope = Scope(ids.entity(), fresh("p"))
        m = memory(scope, "falcon to pin")
        store.put_memories([m])
        assert store.update_memory(scope, m.id, {"pinned": True, "expires_at": AT + 7})
        got = store.get_memory(scope, m.id)
        assert got is not None and (got.pinned, got.expires_at) == (True, AT + 7)
        assert got.content == m.content
        assert store.update_memory(scope, m.id, {"pinned": False, "expires_at": None})
        got = store.get_memory(scope, m.id)
        assert got is not None and (got.pinned, got.expires_at) == (False, None)
        assert not store.update_memory(Scope(fresh("mc-e")), m.id, {"pinned": True})

    def test_import_keeps_pinned_and_expires_at(self, store: MemoryStore, ids: Ids) -> None:
        scope = Scope(ids.entity())
        m = memory(scope, "falcon imported", pinned=True, expires_at=AT + 3)
        store.import_records([to_record(m)])
        got = store.get_memory(scope, m.id)
        assert got is not None and (got.pinned, got.expires_at) == (True, AT + 3)

    def test_expired_memories_are_returned_until_swept(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        scope = Scope(ids.entity())
        m = memory(scope, "falcon expired", expires_at=AT - 1)
        store.put_memories([m])
        assert [x.id for x in store.list_memories(scope)] == [m.id], (
            "the store does not read the clock: memori filters expired memories")

    @isolation
    def test_list_pinned_returns_exactly_the_visible_current_pinned_memories(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        e, p = ids.entity(), fresh("p")
        personas: list[str | None] = [None, p, p + "%", p.upper()]
        memories: list[Memory] = []
        for persona in personas:
            scope = Scope(e, persona)
            newest = memory(scope, "falcon pinned newest", pinned=True)
            memories += [
                memory(scope, "falcon pinned", pinned=True, expires_at=AT),
                memory(scope, "falcon pinned old", pinned=True, superseded_by=newest.id),
                newest,
                memory(scope, "falcon not pinned"),
            ]
            if persona is not None:
                memories.append(memory(scope, "falcon pinned shared", pinned=True, shared=True))
        store.put_memories(memories)
        for n in neighbours_of(e, ids):
            store.put_memories([replace(m, entity_id=n, id=fresh("m")) for m in memories])
        for persona in [*personas, fresh("p")]:
            scope = Scope(e, persona, "s")
            want = sorted((m for m in memories if m.pinned and m.is_current
                           and m.visible_to(scope)), key=lambda m: (m.created_at, m.id))
            got = list_pinned(store, scope)
            assert [m.id for m in got] == [m.id for m in want], (
                f"list_pinned under {scope} returns the current pinned memories it sees: "
                f"{[m.content for m in got]} != {[m.content for m in want]}")
            assert all(m.pinned and m.entity_id == e for m in got)

    @isolation
    def test_sweep_removes_exactly_the_expired_memories(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        sweep_expired(store, AT)  # leftovers of an interrupted run
        world = build_expiry_world(store, ids)
        removed = sweep_expired(store, AT)
        check_exactly_the_expired_went(store, world, removed)
        assert sweep_expired(store, AT) == 0, "a second sweep finds nothing"
        kept = len(world.memories) - len(world.expired()) + 1  # and the turn
        assert store.forget(world.entity) == kept, (
            "the store holds swept memories that no read shows")

    def test_sweep_needs_a_moment(self, store: MemoryStore) -> None:
        for bad in (None, "now", float("nan")):
            with pytest.raises(ValueError):
                sweep_expired(store, bad)  # type: ignore[arg-type]

    @isolation
    @pytest.mark.asyncio
    async def test_async_sweep_removes_exactly_the_expired_memories(
        self, astore: AsyncStore | None, store: MemoryStore, ids: Ids
    ) -> None:
        target = store if astore is None else astore
        await asweep_expired(target, AT)
        world = build_expiry_world(target, ids)
        removed = await asweep_expired(target, AT)
        check_exactly_the_expired_went(target, world, removed)
