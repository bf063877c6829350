"""A world of several interleaved conversations, for the limit and recent-history tests.

One entity talks to a few personas (and to none) in several sessions whose ids
look alike; the turns of the sessions alternate in time, so the latest turns
of a persona belong to different sessions, and a read that drops the session
(or the persona, or the entity) returns a different list. Look-alike neighbour
entities hold the very same turns. Times are explicit and 10 ms apart, so the
order does not depend on the clock or on a backend's time precision.
"""

from __future__ import annotations

import time
from dataclasses import replace

from memori.conformance.base import Ids
from memori.conformance.data import fresh, vec
from memori.conformance.worlds import TurnWorld, look_alikes, neighbours_of
from memori.core import MemoryStore, Turn

ROUNDS = 3
"""Turns per (persona, session)."""


def build_session_world(store: MemoryStore, ids: Ids) -> TurnWorld:
    """Write the world: ``ROUNDS`` turns per persona x session, alternating sessions."""
    p = fresh("p")
    world = TurnWorld(ids.entity(), [], [None, p, p.upper(), p + "%"],
                         look_alikes(fresh("s")))
    world.neighbours = neighbours_of(world.entity, ids)
    start = time.time() - 3600.0
    n = 0
    for r in range(ROUNDS):
        for session in world.sessions:
            for persona in world.personas:
                world.turns.append(Turn(
                    id=f"t{n:04d}", entity_id=world.entity, process_id=persona,
                    session_id=session, role="user" if r % 2 == 0 else "assistant",
                    content=f"falcon round {r} turn {n}", created_at=start + 0.01 * n,
                    embedding=vec(1, 0.01 * n),
                ))
                n += 1
    mirrored = [
        replace(t, entity_id=e, content=f"{t.content} of a neighbour")
        for e in world.neighbours for t in world.turns
    ]
    store.append_turns([*world.turns, *mirrored])
    return world
