"""Where extraction runs: one worker thread, or, for a loop-bound extractor, a task.

A sync extractor (``extract``: the offline one, an LLM extractor with a sync
client) always runs on the worker thread, in sync and async applications
alike. An extractor with only ``aextract`` (the ``AsyncExtractor`` protocol: an
async model client, bound to the application's event loop) runs as a task on
that loop, started at its first use there; when the loop ends (``asyncio.run``
returns) the task is dropped and the next loop that uses memori starts a new
one. The outbox makes every stop lossless: unmarked turns simply stay pending.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from memori.core import MemoryStore
from memori.pipeline.async_worker import AsyncOutboxWorker
from memori.pipeline.gate import ForegroundGate
from memori.pipeline.inflight import InFlight
from memori.pipeline.outbox_logic import AugmentationStats, OutboxPolicy
from memori.pipeline.reconcile import Reconciler
from memori.pipeline.worker import OutboxWorker

log = logging.getLogger(__name__)

T = TypeVar("T")

POLL_SECONDS = 0.25
GRACE_SECONDS = 1.0
DEFAULT_CONCURRENCY = 4


class FlushOnLoopError(RuntimeError):
    """A sync flush on the event loop thread that runs augmentation, with work left."""

    def __init__(self) -> None:
        super().__init__(
            "mem.flush() was called on the event loop thread where augmentation runs, "
            "with turns still to extract: it cannot wait there without blocking the loop. "
            "Use 'await mem.aflush()' (and 'await mem.aclose()') in async code."
        )


class AugmentationRunner:
    """Runs outbox extraction on a thread or as a task on the app's event loop."""

    def __init__(
        self, store: MemoryStore, extractor: Any, reconciler: Reconciler, *,
        gate: ForegroundGate | None = None,
        context_init: Callable[[], object] | None = None,
        concurrency: int = DEFAULT_CONCURRENCY,
        policy: OutboxPolicy | None = None, inflight: InFlight | None = None,
    ) -> None:
        """``extractor`` has ``extract`` (runs on the worker thread) or only ``aextract``
        (bound to an event loop: runs as a task there). ``context_init`` runs first in the
        worker thread or task (e.g. to pause recording); ``inflight`` hears of settled turns."""
        self.store = store
        self.extractor = extractor
        self.reconciler = reconciler
        self.concurrency = concurrency
        self.policy = policy or OutboxPolicy()
        self._inflight = inflight
        self.stats = AugmentationStats()
        self._context_init = context_init
        self._gate = gate
        self._lock = threading.Lock()
        self._closed = False
        self.thread: OutboxWorker | None = None
        if callable(getattr(extractor, "extract", None)):
            self.thread = OutboxWorker(store, extractor, reconciler, thread_init=context_init,
                                       policy=self.policy, stats=self.stats, gate=gate,
                                       inflight=inflight)
        self.task: AsyncOutboxWorker | None = None
        if callable(getattr(extractor, "aextract", None)):
            self.use_running_loop()

    @property
    def mode(self) -> str:
        """``"task"`` when a task worker runs extraction now, else ``"thread"``."""
        task = self.task
        return "task" if task is not None and task.alive else "thread"

    # choosing the worker
    def use_running_loop(self) -> None:
        """For a loop-bound extractor (``aextract`` only): run extraction as a task on the
        running loop, unless a live one runs already. A no-op outside an event loop and
        for sync extractors, which always run on the worker thread."""
        if self.thread is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        task = self.task
        if task is not None and task.loop is loop and task.alive:
            return
        with self._lock:
            task = self.task
            if self._closed or (task is not None and _usable(task, loop)):
                return
            if task is not None:
                task.abandon()
            worker = AsyncOutboxWorker(
                self.store, self.extractor, self.reconciler, concurrency=self.concurrency,
                policy=self.policy, stats=self.stats, task_init=self._context_init,
                gate=self._gate, inflight=self._inflight,
            )
            # published once started: the recorder's thread may call notify() at any
            # moment, and a worker not yet started would look dead to it and be dropped
            # (the turns it had just stored then waited for the next record())
            worker.start()
            self.task = worker

    def _drop(self, task: AsyncOutboxWorker) -> None:
        """The task's loop is gone: forget the task (the next loop starts a new one)."""
        with self._lock:
            if self.task is task:
                task.abandon()
                self.task = None

    def _live_task(self) -> AsyncOutboxWorker | None:
        """The task worker if it can still run, else None."""
        task = self.task
        if task is None:
            return None
        if task.alive and (task.on_loop_thread() or _loop_running(task)):
            return task
        self._drop(task)
        return None

    # what the facade calls
    def notify(self) -> None:
        """New turns were stored (called from the recorder's thread)."""
        task = self.task
        if task is not None and task.alive:
            task.notify()  # a paused loop sees it when it runs again
            return
        if task is not None:
            self._drop(task)
        if self.thread is not None:
            self.thread.notify()

    def drain(self, timeout: float | None = None) -> bool:
        """Sync wait until everything stored before the call is extracted; False on timeout.

        On the loop thread of the task worker it cannot wait: it returns True when
        nothing is left to extract and raises ``FlushOnLoopError`` otherwise.
        """
        if self._closed:
            return True
        task = self._live_task()
        if task is not None:
            if task.on_loop_thread():
                if self.store.outbox_pending(1):
                    raise FlushOnLoopError()
                return True
            try:
                done = _wait_on(task, lambda: task.drain(timeout), timeout)
            except TimeoutError:
                return False
            if done is not None:
                return done
            self._drop(task)
        if self.thread is None:
            return self._no_worker_left()
        return self.thread.drain(timeout)

    async def adrain(self, timeout: float | None = None) -> bool:
        """Await until everything stored before the call is extracted, without blocking."""
        self.use_running_loop()
        task = None if self._closed else self._live_task()
        if task is None:
            return await asyncio.to_thread(self.drain, timeout)
        if task.on_loop_thread():
            return await task.drain(timeout)
        return await asyncio.to_thread(self.drain, timeout)  # a task on another thread's loop

    def _no_worker_left(self) -> bool:
        if not self.store.outbox_pending(1):
            return True
        log.warning("memori: the extractor is async only and no event loop runs it; "
                    "turns stay pending until 'await mem.aflush()' runs in async code")
        return False

    def close(self, timeout: float | None = 10.0) -> None:
        """Stop extraction (turns left pending stay durable and are resumed later)."""
        with self._lock:
            self._closed = True
            task = self.task
        if task is not None and task.alive:
            stopped = False
            if not task.on_loop_thread() and _loop_running(task):
                try:
                    stopped = _wait_on(task, lambda: task.aclose(timeout), timeout) is not None
                except TimeoutError:
                    stopped = False
            if not stopped:  # on its own loop thread, or its loop is gone or stuck
                task.abandon()
                if task.on_loop_thread() and self.store.outbox_pending(1):
                    log.warning("memori: close() on the event loop thread stopped "
                                "extraction; pending turns resume at the next run "
                                "(use 'await mem.aclose()' in async code)")
        if self.thread is not None:
            self.thread.close()

    async def aclose(self, timeout: float | None = 10.0) -> None:
        """Stop extraction; a task worker on this loop finishes its jobs and ends cleanly."""
        with self._lock:
            self._closed = True
            task = self.task
        if task is not None and task.alive and not task.on_loop_thread():
            await asyncio.to_thread(self.close, timeout)  # a task on another thread's loop
            return
        if task is not None and task.alive:
            await task.aclose(timeout)
        if self.thread is not None:
            await asyncio.to_thread(self.thread.close)

    def lag(self) -> float:
        """Seconds since the oldest turn still waiting was recorded (0 when none)."""
        pending = self.store.outbox_pending(1)
        return max(0.0, time.time() - pending[0].created_at) if pending else 0.0


def _loop_running(task: AsyncOutboxWorker) -> bool:
    return task.loop is not None and task.loop.is_running()


def _usable(task: AsyncOutboxWorker, loop: asyncio.AbstractEventLoop) -> bool:
    """Keep a live task on this loop, or on another loop that is running."""
    return task.alive and (task.loop is loop or _loop_running(task))


def _wait_on(
    task: AsyncOutboxWorker, make: Callable[[], Coroutine[Any, Any, T]],
    timeout: float | None,
) -> T | None:
    """Run ``make()`` on the task's loop from another thread and wait for its result.

    None when that loop stops or closes before answering (the caller falls back),
    so a loop that ends mid-wait never leaves the caller hanging; TimeoutError when
    the loop runs but gives no answer within ``timeout`` (plus a short grace).
    """
    loop = task.loop
    if loop is None or loop.is_closed():
        return None
    coro = make()
    try:
        future = asyncio.run_coroutine_threadsafe(coro, loop)
    except RuntimeError:
        coro.close()
        return None
    deadline = None if timeout is None else time.monotonic() + timeout + GRACE_SECONDS
    while True:
        try:
            return future.result(timeout=POLL_SECONDS)
        except concurrent.futures.TimeoutError:
            if not loop.is_running():
                future.cancel()
                return None
            if deadline is not None and time.monotonic() > deadline:
                future.cancel()
                raise TimeoutError from None
        except concurrent.futures.CancelledError:
            return None
