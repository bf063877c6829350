"""forget() while extraction of the entity's turns is in flight writes nothing back."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from pathlib import Path

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
