"""Every entity's counts (the inspector's entity list): SQLite counts in SQL exactly what
a scan counts; a store without its own counts is scanned; the list shows the most
recently active and says how many more there are."""

from __future__ import annotations

import random
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from memori import Memori
from memori.core import Memory, Scope, Turn
from memori.core.summaries import EntityCounts, SupportsEntityCounts, counted, entity_counts
from memori.ui import UIServer, views_entities
from ui_helpers import login, request


def fill(mem: Memori, rng: random.Random, entities: int = 12) -> None:
    """Turns and memories of several personas and sessions, some superseded, pinned,
    edited (``updated_at`` later than ``created_at``) or expired."""
    store = mem.store
    for e in range(entities):
        entity = f"user-{e}"
        personas = [None, "coach", "planner"][: rng.randint(1, 3)]
        store.append_turns([
            Turn(entity, f"s{rng.randint(1, 3)}", "user", f"turn {i}",
                 process_id=rng.choice(personas), created_at=1_000.0 + rng.randint(0, 500))
            for i in range(rng.randint(0, 6))])
        memories = [
            Memory(entity, f"memory {i}", process_id=rng.choice(personas),
                   pinned=rng.random() < 0.3, created_at=1_000.0 + rng.randint(0, 500),
                   expires_at=1.0 if rng.random() < 0.2 else None)
            for i in range(rng.randint(0, 6))]
        store.put_memories(memories)
        for m in memories[:2]:
            if rng.random() < 0.5:
                store.update_memory(Scope(entity, m.process_id), m.id,
                                    {"content": "edited", "updated_at": 2_000.0 + e})
        if len(memories) >= 3:
            store.update_memory(Scope(entity, memories[2].process_id),
                                memories[2].id, {"superseded_by": memories[0].id})


@pytest.fixture
def mem(tmp_path: Path) -> Iterator[Memori]:
    m = Memori(f"sqlite:///{tmp_path / 'counts.db'}", embedder="hash", extractor=None)
    yield m
    m.close()


def by_entity(counts: list[EntityCounts]) -> dict[str, EntityCounts]:
    return {c.entity_id: c for c in counts}


def test_sqlite_counts_in_sql_exactly_what_a_scan_counts(mem: Memori) -> None:
    fill(mem, random.Random(3))
    assert isinstance(mem.store, SupportsEntityCounts)
    in_sql = by_entity(mem.store.entity_counts())
    scanned = by_entity(counted(mem.store.scan()))
    assert in_sql == scanned
    assert len(in_sql) >= 10
    assert any(c.superseded for c in in_sql.values()) and any(c.pinned for c in in_sql.values())
    assert any(c.personas == 2 for c in in_sql.values())
    assert any(c.last is not None and c.last >= 2_000.0 for c in in_sql.values())  # edits


def test_a_store_without_its_own_counts_is_scanned(mem: Memori) -> None:
    fill(mem, random.Random(4))

    class ScanOnly:  # what a third-party store offers: scan, no entity_counts
        def scan(self) -> Iterator[Turn | Memory]:
            return mem.store.scan()

    assert by_entity(entity_counts(ScanOnly())) == by_entity(mem.store.entity_counts())


def test_the_list_shows_the_most_recently_active_and_says_how_many_more(
    mem: Memori, monkeypatch: pytest.MonkeyPatch,
) -> None:
    for i in range(7):
        mem.store.put_memories([Memory(f"user-{i}", "x", created_at=1_000.0 + i)])
    monkeypatch.setattr(views_entities, "LISTED", 3)
    server = UIServer(mem).start()
    try:
        cookie = login(server)
        page = request(server, "GET", "/", cookie=cookie).body
        assert all(f"/e/user-{i}" in page for i in (6, 5, 4))
        assert all(f"/e/user-{i}" not in page for i in (3, 2, 1, 0))
        assert "The 3 most recently active of 7 entities" in page
        found = request(server, "GET", "/?q=user-0", cookie=cookie).body
        assert "/e/user-0" in found and "entities-more" not in found
    finally:
        server.stop()


def test_memori_ui_in_its_own_process_lists_the_latest_of_600_users(tmp_path: Path) -> None:
    """The journey: a store another process filled with 600 users, the ``memori ui``
    command started as a user starts it, its first page read over HTTP."""
    url = f"sqlite:///{tmp_path / 'many.db'}"
    writer = Memori(url, embedder="hash", extractor=None)
    writer.store.put_memories([Memory(f"user-{i:03d}", f"note {i}", created_at=1_000.0 + i)
                               for i in range(600)])
    writer.close()
    proc = subprocess.Popen(
        [sys.executable, "-m", "memori", "--url", url, "--embedder", "hash", "ui",
         "--no-browser"], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        address = proc.stdout.readline().strip().split(" ", 2)[2]
        browser = urllib.request.build_opener(urllib.request.HTTPCookieProcessor())
        with browser.open(address, timeout=30) as answer:
            page = answer.read().decode()
        assert "/e/user-599" in page and "/e/user-100" in page
        assert "/e/user-099" not in page  # the 500 most recently active only
        assert "The 500 most recently active of 600 entities" in page
    finally:
        proc.terminate()
        proc.wait(timeout=30)
