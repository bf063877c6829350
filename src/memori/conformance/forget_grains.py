"""Isolation: forgetting one persona or one session removes exactly that grain.

``forget_scope`` (``memori.core.forget_scope``: the store's own, or the one derived
from list + delete) must remove the grain's turns and memories with every row,
index entry and vector of theirs, and nothing of another persona, session or
entity. What remains is checked through ``scan``, every declared search (index
entries and vectors of the grain must find nothing) and the count ``forget``
returns afterwards; other entities through ``raw_count``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import pytest

from memori.conformance.base import AsyncStore, Ids, raw_count
from memori.conformance.data import fresh, memory, turn, vec
from memori.conformance.guard import isolation
from memori.conformance.worlds import attempt, look_alikes, neighbours_of, searches
from memori.core import Memory, MemoryStore, Scope, Turn, aforget_scope, forget_scope


@dataclass
class GrainWorld:
    """Turns in every persona x session and memories of every origin, for one entity
    (mirrored in its neighbours). Persona look-alikes and session look-alikes are the
    other personas and sessions."""

    entity: str
    persona: str
    session: str
    turns: list[Turn]
    memories: list[Memory]
    neighbours: list[str]

    @property
    def personas(self) -> list[str | None]:
        return [None, *look_alikes(self.persona)]

    def items(self) -> list[Turn | Memory]:
        return [*self.turns, *self.memories]


def build_grain_world(store: MemoryStore, ids: Ids) -> GrainWorld:
    e, p, s = ids.entity(), fresh("p"), fresh("s")
    turns: list[Turn] = []
    memories: list[Memory] = []
    for persona in [None, *look_alikes(p)]:
        by_session = {}
        for session in look_alikes(s):
            t = turn(Scope(e, persona, session), "falcon said", embedding=vec(1, 0.5))
            by_session[session] = t
            turns.append(t)
        scope = Scope(e, persona)
        newest = memory(scope, "falcon newest", embedding=vec(1, 1))
        memories += [
            memory(scope, "falcon own", embedding=vec(1)),
            memory(scope, "falcon old", superseded_by=newest.id),
            newest,
            memory(scope, "falcon from the session", source_turn_ids=(by_session[s].id,),
                   session_id=s, embedding=vec(0, 1)),
            memory(scope, "falcon from two sessions", session_id=s,
                   source_turn_ids=(by_session[s].id, by_session[s + "%"].id)),
            memory(scope, "falcon remembered", session_id=s),
        ]
        if persona is not None:
            memories.append(memory(scope, "falcon shared", shared=True))
    world = GrainWorld(e, p, s, turns, memories, neighbours_of(e, ids))
    store.append_turns(turns)
    store.put_memories(memories)
    for n in world.neighbours:
        store.append_turns([replace(t, entity_id=n) for t in turns])
        store.put_memories([replace(m, entity_id=n) for m in memories])
    return world


def doomed(world: GrainWorld, process_id: str | None, session_id: str | None) -> set[str]:
    """The ids the grain holds (the model of ``forget_scope``)."""
    if session_id is None:
        return {i.id for i in world.items() if i.process_id == process_id}
    turns = {t.id for t in world.turns if t.session_id == session_id
             and (process_id is None or t.process_id == process_id)}
    return turns | {m.id for m in world.memories
                    if m.source_turn_ids and set(m.source_turn_ids) <= turns}


def check_exactly_the_grain_went(
    store: MemoryStore, world: GrainWorld, gone: set[str], removed: int,
    kept_neighbours: dict[str, int],
) -> None:
    assert gone, "the world holds items of the grain"
    assert removed == len(gone), (
        f"forget_scope returns the turns and memories it removed: {removed} != {len(gone)}")
    left = {i.id for i in store.scan(world.entity)}
    remaining = [i for i in world.items() if i.id not in gone]
    assert left == {i.id for i in remaining}, (
        f"removed {sorted({i.id for i in world.items()} - left - gone)} of other grains; "
        f"left {sorted(left & gone)} of the grain")
    for persona in world.personas:
        for session in (None, world.session):
            scope = Scope(world.entity, persona, session)
            for kwargs, declared in searches(store):
                for call in (store.search_memories, store.search_turns):
                    hits = attempt(call, declared, scope, **kwargs) or []
                    assert not {h.id for h in hits} & gone, (
                        f"a search under {scope} still finds forgotten items")
    for n in world.neighbours:
        assert raw_count(store, n) == kept_neighbours[n], (
            f"LEAK: forget_scope on {world.entity!r} changed entity {n!r}")
    assert store.forget(world.entity) == len(remaining), (
        "the store holds turns or memories of the grain that no read shows")


class ForgetGrainTests:
    """Right to be forgotten, per persona and per session."""

    @isolation
    def test_forget_persona_removes_exactly_its_turns_and_memories(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        world = build_grain_world(store, ids)
        kept = {n: raw_count(store, n) for n in world.neighbours}
        removed = forget_scope(store, world.entity, process_id=world.persona)
        gone = doomed(world, world.persona, None)
        check_exactly_the_grain_went(store, world, gone, removed, kept)

    @isolation
    def test_forget_session_of_a_persona_removes_its_turns_and_their_memories(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        world = build_grain_world(store, ids)
        kept = {n: raw_count(store, n) for n in world.neighbours}
        removed = forget_scope(store, world.entity, process_id=world.persona,
                               session_id=world.session)
        gone = doomed(world, world.persona, world.session)
        check_exactly_the_grain_went(store, world, gone, removed, kept)

    @isolation
    def test_forget_session_of_every_persona(self, store: MemoryStore, ids: Ids) -> None:
        world = build_grain_world(store, ids)
        kept = {n: raw_count(store, n) for n in world.neighbours}
        removed = forget_scope(store, world.entity, session_id=world.session)
        gone = doomed(world, None, world.session)
        check_exactly_the_grain_went(store, world, gone, removed, kept)

    @isolation
    def test_forget_scope_twice_removes_nothing_more(self, store: MemoryStore, ids: Ids) -> None:
        world = build_grain_world(store, ids)
        before = forget_scope(store, world.entity, process_id=world.persona)
        assert before > 0
        assert forget_scope(store, world.entity, process_id=world.persona) == 0
        assert forget_scope(store, world.entity, process_id=fresh("p")) == 0

    def test_forget_scope_needs_a_persona_or_a_session(self, store: MemoryStore) -> None:
        with pytest.raises(ValueError, match="process_id or a session_id"):
            forget_scope(store, fresh("mc-e"))
        with pytest.raises(ValueError):
            forget_scope(store, fresh("mc-e"), process_id="")

    @isolation
    @pytest.mark.asyncio
    async def test_async_forget_scope_removes_exactly_the_grain(
        self, astore: AsyncStore | None, store: MemoryStore, ids: Ids
    ) -> None:
        target = store if astore is None else astore
        world = build_grain_world(target, ids)
        kept = {n: raw_count(target, n) for n in world.neighbours}
        removed = await aforget_scope(target, world.entity, process_id=world.persona,
                                      session_id=world.session)
        gone = doomed(world, world.persona, world.session)
        check_exactly_the_grain_went(target, world, gone, removed, kept)
