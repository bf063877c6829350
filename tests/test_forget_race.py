"""forget() while extraction of the entity's turns is in flight writes nothing back."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

import pytest

from memori import Memori
from memori.core import Memory, Scope, Turn
from memori.extractors import OfflineExtractor


class SlowExtractor:
    """The offline extractor, held until the test has forgotten the entity."""

    name = "slow"

    def __init__(self) -> None:
        self.started = threading.Event()
        self.go = threading.Event()

    def extract(self, turns: Sequence[Turn]) -> list[Memory]:
        self.started.set()
        assert self.go.wait(30)
        return OfflineExtractor().extract(turns)


class LoopBoundSlow:
    name = "slow-async"

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.go = asyncio.Event()

    async def aextract(self, turns: Sequence[Turn]) -> list[Memory]:
        self.started.set()
        await self.go.wait()
        return OfflineExtractor().extract(turns)


def turn(entity: str, text: str) -> Turn:
    return Turn(entity_id=entity, session_id="s", role="user", content=text)


def test_forget_during_extraction_leaves_no_memory(tmp_path: Path) -> None:
    slow = SlowExtractor()
    with Memori(f"sqlite:///{tmp_path / 'f.db'}", embedder="hash", extractor=slow) as mem:
        mem.record([turn("zed", "I live in Zagreb.")])
        assert slow.started.wait(30)
        mem.forget(entity_id="zed")
        slow.go.set()
        assert mem.flush(timeout=30)
        assert mem.store.list_memories(Scope("zed")) == []
        assert mem.store.list_turns(Scope("zed")) == []
        mem.record([turn("zed", "I live in Split.")])  # a new life after forget is kept
        assert mem.flush(timeout=30)
        assert [m.content for m in mem.store.list_memories(Scope("zed"))] == [
            "I live in Split."]


async def test_forget_during_a_loop_bound_extraction_leaves_no_memory(tmp_path: Path) -> None:
    slow = LoopBoundSlow()
    async with Memori(f"sqlite:///{tmp_path / 'a.db'}", embedder="hash", extractor=slow) as mem:
        mem.record([turn("zoe", "I live in Zadar.")])
        await asyncio.wait_for(slow.started.wait(), 30)
        await mem.aforget(entity_id="zoe")
        slow.go.set()
        assert await mem.aflush(timeout=30)
        assert mem.store.list_memories(Scope("zoe")) == []


WORKER = """
import sys, time
from pathlib import Path
from memori import Memori
from memori.core import Turn
from memori.extractors import OfflineExtractor

url, flags, entity, session = sys.argv[1], Path(sys.argv[2]), sys.argv[3], sys.argv[4]

class HeldExtractor:
    name = "held"
    def extract(self, turns):
        (flags / "extracting").touch()
        deadline = time.monotonic() + 60
        while not (flags / "go").exists():
            assert time.monotonic() < deadline, "never released"
            time.sleep(0.02)
        return OfflineExtractor().extract(turns)

with Memori(url, embedder="hash", extractor=HeldExtractor()) as mem:
    mem.record([Turn(entity_id=entity, process_id="coach", session_id=session,
                     role="user", content="I live in Zagreb and I love figs.")])
    assert mem.flush(timeout=90)
print("done", flush=True)
"""


def _forget_in_another_process(url: str, tmp_path: Path, grain: str) -> list[Memory]:
    """Process A extracts a turn (held); process B forgets its entity or its session
    meanwhile; A then writes. What A's memories look like afterwards."""
    import subprocess
    import sys
    import time
    import uuid

    entity = f"zed-{uuid.uuid4().hex[:8]}"
    flags = tmp_path / "flags"
    flags.mkdir()
    with Memori(url, embedder="hash", extractor=None) as setup:  # schema and an
        setup.attribution(entity_id=entity, process_id="coach", session_id="other")
        setup.remember("Keeps bees.")  # unrelated memory that must stay (session grain)
    worker = subprocess.Popen([sys.executable, "-c", WORKER, url, str(flags), entity, "s1"],
                              stdout=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not (flags / "extracting").exists():
            assert worker.poll() is None, "the worker ended early"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        with Memori(url, embedder="hash", extractor=None) as other:
            if grain == "entity":
                other.forget(entity_id=entity)
            else:
                other.forget(entity_id=entity, process_id="coach", session_id="s1")
        (flags / "go").touch()
        out, _ = worker.communicate(timeout=120)
        assert worker.returncode == 0 and "done" in out
    finally:
        if worker.poll() is None:
            worker.kill()
    with Memori(url, embedder="hash", extractor=None) as after:
        return after.store.list_memories(Scope(entity, "coach"))


def _store_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "postgres":
        return str(request.getfixturevalue("pg_url"))
    return f"sqlite:///{tmp_path / 'x.db'}"


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_another_process_forgetting_the_entity_during_extraction_leaves_no_memory(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest,
) -> None:
    url = _store_url(backend, tmp_path, request)
    assert _forget_in_another_process(url, tmp_path, "entity") == []


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
def test_another_process_forgetting_the_session_during_extraction_leaves_no_memory(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest,
) -> None:
    url = _store_url(backend, tmp_path, request)
    kept = _forget_in_another_process(url, tmp_path, "session")
    assert [m.content for m in kept] == ["Keeps bees."]


def _late(entity: str, process: str | None, turns: list[Turn], text: str) -> Memory:
    """What a worker of another process writes from ``turns`` (ids as the pipeline's)."""
    return Memory(entity_id=entity, process_id=process, content=text, kind="fact",
                  source_turn_ids=tuple(t.id for t in turns))


@pytest.mark.parametrize("grain", ["entity", "persona", "session"])
def test_a_memory_written_while_forget_runs_is_swept(tmp_path: Path, grain: str) -> None:
    """The window the worker's own check cannot see: a memory written after forget
    listed the memories and before the turns went (or, for the entity, after a
    one-transaction forget, while the worker still counted the turns)."""
    with Memori(f"sqlite:///{tmp_path / 'w.db'}", embedder="hash", extractor=None) as mem:
        mem.attribution(entity_id="kim", process_id="coach", session_id="s1")
        mem.remember("Kept: plays chess.")  # no source turns: the session grain keeps it
        t = Turn(entity_id="kim", process_id="coach", session_id="s1", role="user",
                 content="I moved to Oslo.")
        mem.record([t])
        assert mem.flush(timeout=30)
        store = mem.store
        late = _late("kim", "coach", [t], "Lives in Oslo.")
        if grain == "entity":
            real = store.forget

            def forget_then_late_write(entity_id: str) -> int:
                removed = real(entity_id)
                store.put_memories([late])
                return removed

            store.forget = forget_then_late_write  # type: ignore[method-assign]
            mem.forget(entity_id="kim")
        else:
            real_delete = store.delete_turns

            def late_write_then_delete(scope: Scope, turn_ids: object = None) -> int:
                store.put_memories([late])  # after the memories were listed and deleted
                return real_delete(scope, turn_ids)  # type: ignore[arg-type]

            store.delete_turns = late_write_then_delete  # type: ignore[method-assign]
            if grain == "persona":
                mem.forget(entity_id="kim", process_id="coach")
            else:
                mem.forget(entity_id="kim", process_id="coach", session_id="s1")
        left = [m.content for m in store.scan("kim") if isinstance(m, Memory)]
        assert "Lives in Oslo." not in left
        assert left == ([] if grain != "session" else ["Kept: plays chess."])
