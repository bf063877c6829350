"""A long outage in a busy application: the write queue's bound never loses a turn.

The recorder holds at most ``max_queue`` turns in memory. Once the queue is full
(the store has refused writes for a while) turns wait in the local journal only, in
order, and are read back as the store takes the queue; a SIGKILL meanwhile loses
none of them (the next process replays the journal), and an entity forgotten while
its turns wait there never comes back.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from memori import Memori
from memori.core import Scope, StoreUnavailableError, Turn
from memori.core.errors import FlushError

BOUND = 4


@contextmanager
def writes_refused(mem: Memori) -> Iterator[None]:
    """The store refuses every turn write (a database that went away) inside the block."""
    lock = threading.Lock()

    def down(*_args: Any, **_kwargs: Any) -> Any:
        with lock:
            raise StoreUnavailableError("connection refused")

    mem.store.append_turns = down  # type: ignore[method-assign]
    try:
        yield
    finally:
        del mem.store.append_turns


def small_queue(url: str) -> Memori:
    mem = Memori(url, embedder="hash", extractor=None)
    mem.pipeline.recorder._max_queue = BOUND  # as a busy app's 10,000 turns, made small
    return mem


def turns(entity: str, n: int, start: int = 0) -> list[Turn]:
    return [Turn(entity, "s1", "user", f"{entity} message {i}") for i in range(start, start + n)]


def test_turns_beyond_the_bound_wait_in_the_journal_and_land_in_order(
    sqlite_url: str,
) -> None:
    mem = small_queue(sqlite_url)
    try:
        recorder = mem.pipeline.recorder
        with writes_refused(mem):
            for t in turns("u1", 30):
                mem.record([t])  # one call at a time, as an application records them
            assert recorder.stats.dropped == 0
            assert recorder.pending() == 30
            assert len(recorder._queue) <= BOUND
            assert mem.metrics.queued == 30
        assert mem.flush(timeout=60)
        stored = mem.store.list_turns(Scope("u1"))
        assert [t.content for t in stored] == [f"u1 message {i}" for i in range(30)]
        assert recorder.stats.dropped == 0 and recorder.pending() == 0
        assert recorder.journal is not None and recorder.journal.unconfirmed == 0
    finally:
        mem.close()


def test_forget_during_the_outage_refuses_and_after_it_erases_every_waiting_turn(
    sqlite_url: str,
) -> None:
    mem = small_queue(sqlite_url)
    mem.pipeline.recorder.stall_seconds = 0.5
    try:
        with writes_refused(mem):
            for a, b in zip(turns("gone", 10), turns("kept", 10), strict=True):
                mem.record([a, b])
            with pytest.raises(FlushError):  # it cannot erase what the store has not got
                mem.forget(entity_id="gone")
        assert mem.forget(entity_id="gone") == 10  # the store is back: all of them go
        assert mem.store.list_turns(Scope("gone")) == []
        assert [t.content for t in mem.store.list_turns(Scope("kept"))] == [
            f"kept message {i}" for i in range(10)]
        assert mem.pipeline.recorder.journal is not None
        assert mem.pipeline.recorder.journal.unconfirmed == 0
    finally:
        mem.close()


def test_turns_erased_from_the_journal_while_they_wait_there_are_not_read_back(
    sqlite_url: str,
) -> None:
    mem = small_queue(sqlite_url)
    try:
        with writes_refused(mem):
            mem.record(turns("kept", BOUND))  # fills the queue
            for t in turns("gone", 10):
                mem.record([t])  # all wait in the journal only
            mem.pipeline.forget("gone")  # the journal's part of a forget
        assert mem.flush(timeout=60)  # counts them as done: no wait for turns gone
        assert mem.pipeline.inflight.ids("gone") == set()
        assert mem.store.list_turns(Scope("gone")) == []
        assert len(mem.store.list_turns(Scope("kept"))) == BOUND
    finally:
        mem.close()


def test_without_a_journal_turns_beyond_the_bound_are_dropped_and_counted(
    sqlite_url: str,
) -> None:
    mem = Memori(sqlite_url, embedder="hash", extractor=None, durability="memory")
    mem.pipeline.recorder._max_queue = BOUND
    try:
        with writes_refused(mem):
            for t in turns("u1", 10):
                mem.record([t])
            assert mem.pipeline.recorder.stats.dropped == 10 - BOUND
            assert mem.metrics.dropped == 10 - BOUND
    finally:
        mem.close()


OUTAGE_THEN_KILL = """
    import sys
    from memori import Memori
    from memori.core import StoreUnavailableError, Turn

    mem = Memori(sys.argv[1], embedder="hash", extractor=None)
    mem.pipeline.recorder._max_queue = 4

    def down(*args, **kwargs):
        raise StoreUnavailableError("connection refused")

    mem.store.append_turns = down
    for i in range(40):
        mem.record([Turn("u1", "s1", "user", f"message {i} 你好 \\U0001F600")])
    assert mem.pipeline.recorder.stats.dropped == 0
    print("recorded", flush=True)
    sys.stdin.readline()  # killed here
"""


def test_turns_kept_in_the_journal_survive_sigkill(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'outage.db'}"
    proc = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(OUTAGE_THEN_KILL), url],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().strip()
        assert line == "recorded", proc.stderr.read() if proc.stderr else ""
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    with Memori(url, embedder="hash", extractor=None) as mem:  # the next process
        assert mem.flush(timeout=60)
        stored = sorted(t.content for t in mem.store.list_turns(Scope("u1")))
    assert stored == sorted(f"message {i} 你好 \U0001F600" for i in range(40))


def test_a_journal_that_fails_during_the_outage_costs_counted_turns_not_a_hang(
    sqlite_url: str,
) -> None:
    from memori.pipeline.journal import _read_turns

    mem = small_queue(sqlite_url)
    try:
        recorder = mem.pipeline.recorder
        journal = recorder.journal
        assert journal is not None
        with writes_refused(mem):
            for t in turns("u1", 10):
                mem.record([t])  # 4 queued, 6 in the journal only

            def disk_full(*_args: Any) -> None:
                raise OSError(28, "No space left on device")

            journal.append = disk_full  # type: ignore[method-assign,assignment]
            mem.record(turns("u1", 1, start=10))  # the journal fails: nowhere to keep it
        assert mem.flush(timeout=60)  # no hang on turns this process cannot read back
        assert [t.content for t in mem.store.list_turns(Scope("u1"))] == [
            f"u1 message {i}" for i in range(BOUND)]
        assert mem.metrics.dropped == 7
        # nor does a call wait for them (read-your-writes): none is in flight any more
        assert mem.pipeline.inflight.ids("u1") == set()
        # the six are still in the journal's file, where the next process finds them
        # (beside the four stored since, unconfirmed there: a replay skips stored ids)
        left = sorted(t.content for t in _read_turns(journal.path))
        assert left == sorted(f"u1 message {i}" for i in range(10))
    finally:
        mem.close()
