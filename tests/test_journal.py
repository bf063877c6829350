"""The local journal: replay of a dead process's turns, truncation, and forget leaving no text."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from memori import Memori
from memori.core import Scope, Turn
from memori.core.errors import FlushError
from memori.pipeline import journal as journals
from memori.pipeline.journal import Journal


def turn(entity: str, text: str) -> Turn:
    return Turn(entity_id=entity, session_id="s", role="user", content=text)


def test_a_live_journal_is_not_taken_and_a_dead_ones_turns_are_recovered(
    tmp_path: Path,
) -> None:
    mine = Journal(tmp_path)
    mine.append([turn("a", "kept by a live process")])
    assert journals.recover(tmp_path) == ([], [])  # its lock is held: never replayed twice
    child = subprocess.run([sys.executable, "-c", textwrap.dedent(f"""
        from pathlib import Path
        from memori.core import Turn
        from memori.pipeline.journal import Journal
        j = Journal(Path({str(tmp_path)!r}))
        turns = [Turn(entity_id="b", session_id="s", role="user", content=f"t{{i}}")
                 for i in range(3)]
        j.append(turns)
        j.confirm([turns[0].id])
        import os; os._exit(0)  # dies without closing: the lock goes with the process
    """)], capture_output=True, text=True, timeout=60)
    assert child.returncode == 0, child.stderr
    recovered, files = journals.recover(tmp_path)
    assert sorted(t.content for t in recovered) == ["t1", "t2"]
    journals.discard(files)
    assert [p.name for p in tmp_path.glob("*.jsonl")] == [mine.path.name]
    mine.close()


def test_the_journal_is_truncated_once_everything_is_confirmed(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    turns = [turn("a", "one"), turn("a", "two")]
    j.append(turns)
    j.confirm([turns[0].id])
    assert j.path.stat().st_size > 0
    j.confirm([turns[1].id])
    assert j.path.stat().st_size == 0
    j.close()
    assert not j.path.exists()


def test_forget_rewrites_the_journal_without_the_entitys_text(tmp_path: Path) -> None:
    j = Journal(tmp_path)
    gone, kept = turn("gone", "zebracorn secret"), turn("kept", "ordinary words")
    j.append([gone, kept])
    j.reject(turn("gone", "zebracorn set aside"), "ValueError: x")
    j.forget("gone")
    for path in tmp_path.iterdir():
        assert b"zebracorn" not in path.read_bytes(), path.name
    assert b"ordinary words" in j.path.read_bytes()
    j.close()


def test_memori_forget_clears_set_aside_turns_of_the_entity(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'f.db'}"
    with Memori(url, embedder="hash", extractor=None) as mem:
        original = mem.store.append_turns

        def picky(turns):  # type: ignore[no-untyped-def]
            if any("zebracorn" in t.content for t in turns):
                raise ValueError("refused")
            original(turns)

        mem.store.append_turns = picky  # type: ignore[method-assign]
        mem.record([turn("zed", "zebracorn 42"), turn("amy", "fine")])
        with pytest.raises(FlushError):
            mem.flush(timeout=30)
        journal = mem.pipeline.recorder.journal
        assert journal is not None
        assert b"zebracorn" in (journal.directory / journals.REJECTED).read_bytes()
        mem.forget(entity_id="zed")
        for path in journal.directory.iterdir():
            assert b"zebracorn" not in path.read_bytes()
        assert mem.store.list_turns(Scope("amy"))
    assert os.environ.get("MEMORI_HOME")  # the journal lived in the test's data directory
