"""Isolation: history is read per (entity, persona, session) on every turn path.

A turn is in ``Scope(E, P, S)`` when it has entity E, persona P (None only
None) and, when the scope names a session, session S. Checked through list,
count, search, delete, export and the outbox.
"""

from __future__ import annotations

from memori.conformance.base import Ids
from memori.conformance.checks import assert_only_entity, assert_turn_hits
from memori.conformance.guard import isolation
from memori.conformance.worlds import attempt, build_turn_world, exact, ids_of, searches
from memori.core import ExtractState, MemoryStore, Scope


class TurnVisibilityTests:
    """Entity, persona and session rules on every turn path."""

    @isolation
    def test_turn_reads_respect_entity_persona_and_session(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        world = build_turn_world(store, ids)
        for scope in world.scopes():
            want = world.expected(scope)
            listed = store.list_turns(scope)
            assert_only_entity(listed, world.entity, "list_turns")
            assert ids_of(listed) == want, f"list_turns({scope})"
            assert ids_of(store.list_turns(scope, limit=1)) == want[-1:], (
                f"list_turns({scope}, limit=1)"
            )
            assert store.count_turns(scope) == len(want), f"count_turns({scope})"

    @isolation
    def test_turn_search_respects_entity_persona_and_session(
        self, store: MemoryStore, ids: Ids
    ) -> None:
        world = build_turn_world(store, ids)
        for scope in world.scopes():
            want = set(world.expected(scope))
            for kwargs, declared in searches(store):
                hits = attempt(store.search_turns, declared, scope, limit=100, **kwargs)
                if hits is None:
                    continue
                assert_turn_hits(hits, scope, want, limit=100)
                if declared and exact(store, kwargs):
                    assert {h.id for h in hits} == want, (
                        f"search_turns({scope}, {kwargs}) missed turns of the scope"
                    )

    @isolation
    def test_turn_delete_stays_inside_the_scope(self, store: MemoryStore, ids: Ids) -> None:
        world = build_turn_world(store, ids)
        every_id = [t.id for t in world.turns]
        remaining = set(every_id)
        for n, scope in enumerate(world.scopes()):
            doomed = set(world.expected(scope)) & remaining
            deleted = store.delete_turns(scope, None if n % 2 else every_id)
            assert deleted == len(doomed), (
                f"delete_turns({scope}) deleted {deleted}, the scope held {sorted(doomed)}"
            )
            remaining -= doomed
            left = set(ids_of(store.list_turns(Scope(world.entity, None)))) | {
                t.id for p in world.personas if p is not None
                for t in store.list_turns(Scope(world.entity, p))
            }
            assert left == remaining, f"after delete_turns({scope}): left {sorted(left)}"
        for e in world.neighbours:
            held = sum(store.count_turns(Scope(e, p)) for p in world.personas)
            assert held == len(world.turns), f"LEAK: delete_turns under {world.entity!r} hit {e!r}"

    @isolation
    def test_turn_export_holds_only_the_entity(self, store: MemoryStore, ids: Ids) -> None:
        world = build_turn_world(store, ids)
        records = list(store.export(world.entity))
        assert {r["entity_id"] for r in records} == {world.entity}, (
            f"LEAK: export({world.entity!r}) holds records of other entities"
        )
        assert sorted(r["id"] for r in records) == sorted(t.id for t in world.turns)

    @isolation
    def test_outbox_mark_stays_inside_the_entity(self, store: MemoryStore, ids: Ids) -> None:
        world = build_turn_world(store, ids)
        every_id = [t.id for t in world.turns]
        store.outbox_mark(world.entity, every_id, ExtractState.DONE, attempts=3, error="x")
        for t in store.list_turns(Scope(world.entity, world.personas[1])):
            assert t.extract_state == ExtractState.DONE and t.extract_attempts == 3
        for e in world.neighbours:
            for p in world.personas:
                for t in store.list_turns(Scope(e, p)):
                    assert (t.extract_state, t.extract_attempts) == (ExtractState.PENDING, 0), (
                        f"LEAK: outbox_mark for {world.entity!r} changed turn {t.id!r} of {e!r}"
                    )
        pending = {(t.entity_id, t.id) for t in store.outbox_pending(100_000)}
        assert not any((world.entity, i) in pending for i in every_id)
