"""Small worlds for the isolation tests: one entity among look-alike neighbours.

The neighbours (another fresh entity, and the entity id in upper case, with a
``%`` appended, and cut by one character) hold the very same item ids,
personas and sessions, so a backend that compares any id loosely, or forgets a
filter, returns an item of the wrong entity, persona or session.
The expected answer always comes from the core's rules, never from the store.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from memori.conformance.base import Ids
from memori.conformance.checks import memory_visible, turn_in_scope
from memori.conformance.data import fresh, vec
from memori.core import Capability, Hit, Memory, MemoryStore, Scope, Turn


def neighbours_of(entity_id: str, ids: Ids) -> list[str]:
    """Entity ids a loose comparison confuses with ``entity_id`` (each checked empty)."""
    return [ids.entity(e) for e in
            (fresh("mc-e"), entity_id.upper(), entity_id + "%", entity_id[:-1])]


def look_alikes(value: str) -> list[str]:
    """A persona or session id and the ids a loose comparison confuses with it."""
    return [value, value + "%", value.upper(), value[:-1]]


@dataclass
class MemoryWorld:
    """Memories of one entity for every persona rule, mirrored in the neighbours."""

    entity: str
    neighbours: list[str]
    personas: list[str | None]
    memories: dict[str, Memory] = field(default_factory=dict)
    mirrored: list[Memory] = field(default_factory=list)

    def scopes(self) -> list[Scope]:
        """Every persona of the world (and none), plus a fresh persona that owns nothing."""
        return [Scope(self.entity, p, "s") for p in [*self.personas, fresh("p")]]

    def expected(self, scope: Scope, include_superseded: bool = False) -> set[str]:
        return {
            m.id for m in self.memories.values()
            if memory_visible(m, scope, include_superseded)
        }


def build_memory_world(store: MemoryStore, ids: Ids) -> MemoryWorld:
    """Write the world: a memory per persona rule, each containing the word "falcon"."""
    p = fresh("p")
    world = MemoryWorld(ids.entity(), [], [None, *look_alikes(p)])
    world.neighbours = neighbours_of(world.entity, ids)
    specs: list[tuple[str, str | None, dict[str, Any]]] = [
        ("open", None, {}),
        ("open old", None, {"superseded_by": "open"}),
        ("own", p, {}),
        ("own old", p, {"superseded_by": "own"}),
        ("own shared", p, {"shared": True}),
        ("like", p + "%", {}),
        ("case", p.upper(), {}),
        ("prefix", p[:-1], {}),
        ("prefix shared", p[:-1], {"shared": True}),
    ]
    for n, (label, persona, extra) in enumerate(specs):
        item_id = label.replace(" ", "-")
        if "superseded_by" in extra:
            extra = {**extra, "superseded_by": extra["superseded_by"].replace(" ", "-")}
        world.memories[item_id] = Memory(
            id=item_id, entity_id=world.entity, process_id=persona,
            content=f"falcon {label}", embedding=vec(1, 0.1 * n, 0.05), **extra,
        )
    for e in world.neighbours:
        world.mirrored += [
            replace(m, entity_id=e, content=f"{m.content} of a neighbour")
            for m in world.memories.values()
        ]
    store.put_memories([*world.memories.values(), *world.mirrored])
    return world


@dataclass
class TurnWorld:
    """Turns of one entity in every persona x session, mirrored in the neighbours."""

    entity: str
    neighbours: list[str]
    personas: list[str | None]
    sessions: list[str]
    turns: list[Turn] = field(default_factory=list)
    mirrored: list[Turn] = field(default_factory=list)

    def scopes(self) -> list[Scope]:
        return [
            Scope(self.entity, p, s) for p in [*self.personas, fresh("p")]
            for s in [*self.sessions, None]
        ]

    def expected(self, scope: Scope) -> list[str]:
        return [t.id for t in self.turns if turn_in_scope(t, scope)]


def build_turn_world(store: MemoryStore, ids: Ids) -> TurnWorld:
    """Write the world: one turn per persona x session, each containing "falcon"."""
    world = TurnWorld(ids.entity(), [], [None, *look_alikes(fresh("p"))],
                      look_alikes(fresh("s")))
    world.neighbours = neighbours_of(world.entity, ids)
    n = 0
    for persona in world.personas:
        for session in world.sessions:
            world.turns.append(Turn(
                id=f"t{n}", entity_id=world.entity, process_id=persona, session_id=session,
                role="user", content=f"falcon turn {n}", embedding=vec(1, 0.1 * n),
            ))
            n += 1
    for e in world.neighbours:
        world.mirrored += [
            replace(t, entity_id=e, content=f"{t.content} of a neighbour") for t in world.turns
        ]
    store.append_turns([*world.turns, *world.mirrored])
    return world


SearchCall = Callable[..., list[Hit]]


def searches(store: MemoryStore) -> list[tuple[dict[str, Any], bool]]:
    """Every kind of search, and whether the store declares it.

    Isolation tests try the undeclared ones too: a store may refuse them, but
    whatever it returns must still respect the scope.
    """
    caps = store.capabilities
    text, vector = Capability.TEXT_SEARCH in caps, Capability.VECTOR_SEARCH in caps
    return [
        ({"text": "falcon"}, text),
        ({"vector": vec(1)}, vector),
        ({"text": "falcon", "vector": vec(1)}, text and vector),
    ]


def attempt(call: SearchCall, declared: bool, *args: Any, **kwargs: Any) -> list[Hit] | None:
    """Run a search; an undeclared one may raise (None), a declared one may not."""
    if declared:
        return call(*args, **kwargs)
    try:
        return call(*args, **kwargs)
    except Exception:  # an undeclared search may be refused in any way
        return None


def exact(store: MemoryStore, kwargs: dict[str, Any]) -> bool:
    """Whether a declared search must return every visible match (not approximate)."""
    return "vector" not in kwargs or Capability.NATIVE_VECTOR_INDEX not in store.capabilities


def ids_of(items: Sequence[Turn | Memory]) -> list[str]:
    return [i.id for i in items]
