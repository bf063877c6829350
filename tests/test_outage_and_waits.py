"""The store refusing the write path's work for a while: nothing waits for it, nothing
stalls after it.

Read-your-writes (``memori.pipeline.inflight``) makes a call wait, within a bound, for
the entity's turns in flight. While the recorder cannot write, or the extraction cannot
read its outbox, those turns cannot settle: the wait ends at once, and starts again once
the store answers. And a failed extraction pass is retried on its own, without waiting
for the next turn to wake the worker.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from typing import Any

from memori import Memori
from memori.core import Scope, StoreUnavailableError, Turn
from memori.extractors import OfflineExtractor
from memori.pipeline.inflight import InFlight


def wait_until(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


class FailsFor:
    """Wraps a store method: refuses the next ``times`` calls as an unreachable store."""

    def __init__(self, method: Callable[..., Any], times: int) -> None:
        self.method = method
        self.left = times
        self.lock = threading.Lock()

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        with self.lock:
            if self.left > 0:
                self.left -= 1
                raise StoreUnavailableError("connection refused")
        return self.method(*args, **kwargs)


class AsyncOffline:
    """The offline extractor behind ``aextract`` only: extraction runs as a task."""

    name = "offline-async"

    def __init__(self) -> None:
        self.inner = OfflineExtractor()

    async def aextract(self, turns: Any) -> Any:
        return self.inner.extract(turns)


def refuse_then_record(mem: Memori, method: str, times: int) -> FailsFor:
    """The store refuses its next ``times`` calls of ``method``; then a turn is recorded."""
    failing = FailsFor(getattr(mem.store, method), times)
    setattr(mem.store, method, failing)
    mem.attribution(entity_id="u1")
    mem.record([Turn("u1", "s1", "user", "I am allergic to peanuts.")])
    return failing


async def await_until(condition: Callable[[], bool], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


def test_a_wait_in_progress_ends_when_a_stage_finds_the_store_unreachable() -> None:
    inflight = InFlight()
    inflight.add([Turn("u", "s1", "user", "a", id="t1")])
    ended: list[tuple[bool, float]] = []

    def waiter() -> None:
        began = time.monotonic()
        ended.append((inflight.wait("u", 30.0, (None, "s2")), time.monotonic() - began))

    thread = threading.Thread(target=waiter)
    thread.start()
    wait_until(lambda: inflight.waits == 1)
    inflight.failing("write", True)
    thread.join(timeout=10)
    assert not thread.is_alive() and ended[0][1] < 10
    assert not inflight.busy("u") and inflight.stalled
    assert inflight.ids("u") == {"t1"}  # still in flight: forget still sees it
    inflight.failing("extract", True)
    inflight.failing("write", False)
    assert not inflight.busy("u")  # one stage still fails
    inflight.failing("extract", False)
    assert inflight.busy("u") and not inflight.stalled


def test_a_failed_extraction_pass_is_retried_without_a_new_turn(sqlite_url: str) -> None:
    mem = Memori(sqlite_url, embedder="hash", extractor="offline")
    try:
        pending = refuse_then_record(mem, "outbox_pending", times=3)
        wait_until(lambda: pending.left == 0)
        # no flush, no new turn: the worker comes back to the pending turn by itself
        wait_until(lambda: mem.store.count_memories(Scope("u1")) >= 1)
        wait_until(lambda: not mem.pipeline.inflight.stalled)
    finally:
        mem.close()


def test_the_async_worker_reports_a_failed_pass_and_its_recovery(sqlite_url: str) -> None:
    async def journey() -> None:
        mem = Memori(sqlite_url, embedder="hash", extractor=AsyncOffline())
        try:
            seen: list[bool] = []
            real = mem.pipeline.inflight.failing

            def spy(stage: str, failing: bool) -> None:
                if stage == "extract":
                    seen.append(failing)
                real(stage, failing)

            mem.pipeline.inflight.failing = spy  # type: ignore[method-assign]
            refuse_then_record(mem, "outbox_pending", times=2)
            await await_until(lambda: mem.store.count_memories(Scope("u1")) >= 1)
            assert True in seen and seen[-1] is False
            assert not mem.pipeline.inflight.stalled
        finally:
            await mem.aclose()

    asyncio.run(journey())


def test_the_async_worker_retries_a_job_whose_marks_the_store_refused(
    sqlite_url: str,
) -> None:
    # the extraction ran, but the store refused to mark its turns (done, or back to
    # pending after a failure): the turns stay pending and are taken up again by the
    # worker itself, with no new turn to wake it
    async def journey() -> None:
        mem = Memori(sqlite_url, embedder="hash", extractor=AsyncOffline())
        try:
            marking = refuse_then_record(mem, "outbox_mark", times=2)
            await await_until(lambda: not marking.left and not mem.store.outbox_pending(10))
            assert mem.store.count_memories(Scope("u1")) >= 1
        finally:
            await mem.aclose()

    asyncio.run(journey())


def test_the_thread_worker_retries_a_batch_whose_marks_the_store_refused(
    sqlite_url: str,
) -> None:
    mem = Memori(sqlite_url, embedder="hash", extractor="offline")
    try:
        marking = refuse_then_record(mem, "outbox_mark", times=2)
        wait_until(lambda: not marking.left and not mem.store.outbox_pending(10), timeout=15)
        assert mem.store.count_memories(Scope("u1")) >= 1
    finally:
        mem.close()
