"""Dedup and supersession through the whole pipeline, on every built-in backend."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from memori import Memori
from memori.core import Turn

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
