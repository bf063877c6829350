"""Dedup and supersession through the whole pipeline, on every built-in backend."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from memori import Memori
from memori.core import Memory, Scope, Turn
from memori.pipeline.reconcile import Reconciler

BACKENDS = ["memory", "sqlite", "postgres", "mongo", "qdrant"]


@pytest.fixture(params=BACKENDS)
def mem(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Memori]:
    name = request.param
    options: dict[str, object] = {}
    if name == "memory":
        url = "memory://"
    elif name == "sqlite":
        url = f"sqlite:///{tmp_path / 'm.db'}"
    elif name == "postgres":
        url = request.getfixturevalue("pg_url")
        options = {"schema": f"memori_rec_{uuid.uuid4().hex[:10]}"}
    elif name == "mongo":
        from memori.testing.mongo_server import shared_server

        url = shared_server().url
        options = {"database": f"memori_rec_{uuid.uuid4().hex[:10]}"}
    else:
        url = "qdrant+memory://"
    m = Memori(url, embedder="hash", store_options=options)
    yield m
    m.close()


def say(mem: Memori, text: str) -> None:
    scope = mem.scope()
    assert scope.session_id is not None
    mem.record([Turn(entity_id=scope.entity_id, process_id=scope.process_id,
                     session_id=scope.session_id, role="user", content=text)])
    assert mem.flush(timeout=60)


def test_duplicates_merge_and_newer_facts_supersede(mem: Memori) -> None:
    mem.attribution(entity_id=f"rec-{uuid.uuid4().hex}", process_id="coach")
    say(mem, "I love sourdough bread.")
    say(mem, "I love sourdough bread!")
    say(mem, "I live in Berlin.")
    say(mem, "I live in Paris now.")
    current = {m.content: m for m in mem.memories()}
    assert set(current) == {"I love sourdough bread.", "I live in Paris now."}
    assert current["I love sourdough bread."].count == 2
    history = {m.content: m for m in mem.memories(include_history=True)}
    assert history["I live in Berlin."].superseded_by == current["I live in Paris now."].id
    mem.attribution(entity_id=mem.current.entity_id or "", process_id="planner")
    assert mem.memories() == []  # the coach's memories stay the coach's


class _RacingStore:
    """The store, but another writer's whole ``apply`` runs just before this one's first
    write of a memory: both have superseded the old memory of the slot, neither has
    stored its own yet (two processes extracting for one user at once)."""

    def __init__(self, store: Any, other: Callable[[], object]) -> None:
        self._store, self._other = store, other

    def put_memories(self, memories: Any) -> Any:
        other, self._other = self._other, lambda: None
        other()
        return self._store.put_memories(memories)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


@pytest.mark.parametrize("racer_is_newer", [True, False])
def test_two_writers_of_one_slot_at_once_leave_one_current_memory(
    mem: Memori, racer_is_newer: bool,
) -> None:
    def fact(text: str, at: float) -> Memory:
        return Memory(entity_id="u", process_id="coach", content=text, created_at=at,
                      metadata={"slot": "lives_in"})

    store = mem.store
    Reconciler(store, mem.embedder).apply([fact("I live in Berlin.", 1000.0)])
    mine = fact("I live in Paris.", 2000.0)
    racer = fact("I live in Rome.", 3000.0 if racer_is_newer else 1500.0)
    other = Reconciler(store, mem.embedder)
    racing = Reconciler(_RacingStore(store, lambda: other.apply([racer])), mem.embedder)
    racing.apply([mine])
    current = [m for m in store.list_memories(Scope("u", "coach"))
               if m.metadata.get("slot") == "lives_in"]
    newest = racer if racer_is_newer else mine
    assert [m.content for m in current] == [newest.content]
    history = {m.content: m for m in store.list_memories(Scope("u", "coach"),
                                                          include_superseded=True)}
    assert set(history) == {"I live in Berlin.", "I live in Paris.", "I live in Rome."}
    assert all(m.superseded_by for text, m in history.items() if text != newest.content)


def test_a_rerun_after_a_crash_between_the_write_and_the_second_look_leaves_one(
    mem: Memori,
) -> None:
    """Two writers stored their memories of one slot and one process died before it
    looked again: both are current. Re-running either's candidate (its turn is still
    pending) leaves only the newest."""
    def fact(text: str, at: float) -> Memory:
        return Memory(entity_id="u", process_id="coach", content=text, created_at=at,
                      metadata={"slot": "lives_in"})

    older, newer = fact("I live in Berlin.", 1000.0), fact("I live in Paris.", 2000.0)
    mem.store.put_memories([older, newer])
    Reconciler(mem.store, mem.embedder).apply([older])  # the older one's turn re-run
    current = [m.content for m in mem.store.list_memories(Scope("u", "coach"))]
    assert current == ["I live in Paris."]
