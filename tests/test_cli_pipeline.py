"""memori stats / doctor show pending, parked and set-aside turns with their reasons;
memori retry queues them again and processes them (real subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from memori import Memori
from memori.core import ExtractState, Scope, Turn
from memori.core.errors import FlushError


def cli(*args: str) -> dict[str, object]:
    done = subprocess.run([sys.executable, "-m", "memori", *args, "--embedder", "hash",
                           "--json"], capture_output=True, text=True, timeout=120,
                          env=dict(os.environ))
    assert done.returncode == 0, done.stderr
    report: dict[str, object] = json.loads(done.stdout)
    return report


def turn(entity: str, text: str) -> Turn:
    return Turn(entity_id=entity, session_id="s", role="user", content=text)


def test_parked_turns_are_shown_with_their_reason_and_retry_extracts_them(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'p.db'}"
    with Memori(url, embedder="hash", extractor=None) as mem:
        parked = turn("pat", "I live in Bergen.")
        mem.record([parked])
        assert mem.flush(timeout=30)
        mem.store.outbox_mark("pat", [parked.id], ExtractState.PARKED, attempts=4,
                              error="ExtractionError: model output is not JSON")
    stats = cli("stats", url)
    assert stats["pipeline.parked"] == 1 and stats["pipeline.pending"] == 0
    assert stats["pipeline.parked.reason.1"] == "1 x ExtractionError: model output is not JSON"
    assert "memori retry" in str(stats["pipeline.hint"])
    assert cli("doctor", url)["pipeline.parked"] == 1
    retried = cli("retry", url)
    assert retried["requeued"] == 1 and retried["drained"] is True
    assert retried["pipeline.parked"] == 0
    with Memori(url, embedder="hash", extractor=None) as mem:
        assert [m.content for m in mem.store.list_memories(Scope("pat"))] == ["I live in Bergen."]


def test_set_aside_turns_are_shown_and_retry_stores_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    mem = Memori(url, embedder="hash", extractor=None)
    original = mem.store.append_turns

    def picky(turns):  # type: ignore[no-untyped-def]
        if any("poison" in t.content for t in turns):
            raise ValueError("cannot hold this")
        original(turns)

    mem.store.append_turns = picky  # type: ignore[method-assign]
    mem.record([turn("sam", "fine"), turn("sam", "poison")])
    with pytest.raises(FlushError):
        mem.flush(timeout=30)
    mem.close()
    stats = cli("stats", url)
    assert stats["pipeline.set_aside"] == 1
    assert stats["pipeline.set_aside.reason.1"] == "1 x ValueError: cannot hold this"
    retried = cli("retry", url, "--no-extract")
    assert retried["requeued"] == 1 and retried["pipeline.set_aside"] == 0
    with Memori(url, embedder="hash", extractor=None) as again:
        assert [t.content for t in again.store.list_turns(Scope("sam"))] == ["fine", "poison"]


def test_purge_vacuums_a_sqlite_file_and_names_backends_without_one(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'v.db'}"
    with Memori(url, embedder="hash", extractor=None) as mem:
        mem.remember("something to purge later", entity_id="pia")
    done = subprocess.run([sys.executable, "-m", "memori", "purge", url],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "sqlite store purged" in done.stdout, done.stderr
    refused = subprocess.run([sys.executable, "-m", "memori", "purge", "memory://"],
                             capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "no purge operation" in refused.stderr
