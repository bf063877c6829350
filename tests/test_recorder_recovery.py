"""A flush that starts after the store came back answers at once, whatever the writer's
backoff: it wakes the writer, and an error from before the flush began does not count
as the store failing now."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from memori import Memori
from memori.core import Scope, StoreUnavailableError, Turn
from memori.core.errors import FlushError
from memori.pipeline.recorder import TurnRecorder


def turn(text: str) -> Turn:
    return Turn(entity_id="u", session_id="s", role="user", content=text)


def test_a_flush_after_the_store_returns_does_not_wait_out_the_backoff(tmp_path: Path) -> None:
    with Memori(f"sqlite:///{tmp_path / 'm.db'}", embedder="hash") as mem:
        store = mem.store
        real = store.append_turns
        down = True

        def append(turns: Sequence[Turn]) -> None:
            if down:
                raise StoreUnavailableError("the database is down")
            real(turns)

        store.append_turns = append  # type: ignore[method-assign]
        recorder = TurnRecorder(store, None, max_backoff=60.0, stall_seconds=1.0)
        recorder.submit([turn("said while the store was down")])
        with pytest.raises(FlushError, match="the store has failed"):
            recorder.flush(timeout=30)
        time.sleep(2.5)  # the writer is now in a long backoff (up to 60 s)
        down = False
        assert recorder.flush(timeout=10)  # no stale FlushError, no wait for the backoff
        assert [t.content for t in store.list_turns(Scope("u", None, "s"))] == [
            "said while the store was down"]
        recorder.close(timeout=5)


def test_a_flush_while_the_store_stays_down_still_raises_with_the_cause(tmp_path: Path) -> None:
    with Memori(f"sqlite:///{tmp_path / 'm.db'}", embedder="hash") as mem:
        store = mem.store

        def append(turns: Sequence[Turn]) -> None:
            raise StoreUnavailableError("the database is down")

        store.append_turns = append  # type: ignore[method-assign]
        recorder = TurnRecorder(store, None, max_backoff=60.0, stall_seconds=1.0)
        recorder.submit([turn("lost? no: journaled and retried")])
        with pytest.raises(FlushError, match="the store has failed"):
            recorder.flush(timeout=30)
        time.sleep(2.5)
        with pytest.raises(FlushError, match="database is down"):  # a fresh attempt failed
            recorder.flush(timeout=30)
        recorder.close(timeout=0.1)
