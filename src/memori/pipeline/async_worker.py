"""The augmentation task worker: the outbox drained by an asyncio task on the app's loop.

The same outbox semantics as the thread worker (``outbox_logic`` decides:
batching by entity, retries with backoff, parking, derived ids), run as one
dispatcher task that starts at most ``concurrency`` entity jobs at once (never
two of one entity). Nothing blocks the loop: a sync extractor, reconciliation
and sync store calls run in ``asyncio.to_thread``; an extractor's ``aextract``
and a store's native ``aoutbox_pending``/``aoutbox_mark`` are awaited directly
(a batch's "done" mark goes with its reconciliation, in the same thread call).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from memori.core import ExtractState, Memory, MemoryStore, SupportsAsyncOutbox, Turn
from memori.observability import describe_error
from memori.observability.observer import observer_of
from memori.pipeline.forgotten import take_back_forgotten
from memori.pipeline.gate import ForegroundGate
from memori.pipeline.inflight import InFlight, applying, report_failing
from memori.pipeline.outbox_logic import (
    AugmentationStats,
    EntityJob,
    Mark,
    OutboxPolicy,
    parked_count,
)
from memori.pipeline.reconcile import Reconciler

log = logging.getLogger(__name__)


class AsyncOutboxWorker:
    """Outbox extraction as a task on one event loop (see module docstring).

    ``start()`` runs on the loop; ``notify()`` may be called from any thread;
    ``drain()`` and ``aclose()`` are awaited on the worker's loop.
    """

    def __init__(
        self, store: MemoryStore, extractor: Any, reconciler: Reconciler, *,
        concurrency: int = 4, policy: OutboxPolicy | None = None,
        stats: AugmentationStats | None = None,
        task_init: Callable[[], object] | None = None,
        gate: ForegroundGate | None = None, inflight: InFlight | None = None,
    ) -> None:
        """``extractor`` has ``aextract`` (awaited) or ``extract`` (run in a thread).
        ``task_init`` runs first inside the task (its context is inherited by every
        job and thread it starts);
        ``gate``: each batch's thread call waits (briefly) for foreground reads to end."""
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.store = store
        self.extractor = extractor
        self.reconciler = reconciler
        self.concurrency = concurrency
        self.policy = policy or OutboxPolicy()
        self.stats = stats or AugmentationStats()
        self._task_init = task_init
        self._gate = gate
        self._inflight = inflight
        self._observer = observer_of(store)
        self.loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake: asyncio.Event | None = None
        self._slots: asyncio.Semaphore | None = None
        self._jobs: dict[str, asyncio.Task[None]] = {}
        self._ended_jobs: set[str] = set()  # entities whose job ended during this pass's read
        self._stale = True  # the outbox may hold turns the last read did not plan
        self._busy_turns = 0
        self._asked = 0
        self._waiters: list[tuple[int, asyncio.Future[bool]]] = []
        self._closing = False

    # lifecycle
    def start(self) -> None:
        """Start the dispatcher task on the running loop (call it on that loop)."""
        if self._task is not None:
            raise RuntimeError("this worker was started already")
        loop = asyncio.get_running_loop()
        self.loop = loop
        self._wake = asyncio.Event()
        self._slots = asyncio.Semaphore(self.concurrency)
        self._task = loop.create_task(self._run(), name="memori-augmentation")
        self._task.add_done_callback(self._ended)

    @property
    def alive(self) -> bool:
        """Started, not stopped, and its loop not closed (it may be paused, not running)."""
        return (self._task is not None and not self._task.done() and not self._closing
                and self.loop is not None and not self.loop.is_closed())

    @property
    def in_flight(self) -> int:
        """Entity jobs running now."""
        return len(self._jobs)

    def on_loop_thread(self) -> bool:
        """Whether the caller runs on the thread of the worker's loop."""
        return on_thread_of(self.loop)

    def notify(self) -> None:
        """New turns were stored: wake the dispatcher. Safe from any thread."""
        loop, wake = self.loop, self._wake
        if loop is None or wake is None or not self.alive:
            return
        if self.on_loop_thread():
            self._poke()
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._poke)

    def _poke(self) -> None:
        self._stale = True
        if self._wake is not None:
            self._wake.set()

    def abandon(self) -> None:
        """Give up the worker without waiting (its loop stopped): it starts no more work."""
        self._closing = True
        if self.on_loop_thread():
            self._cancel_all()
        elif self.loop is not None and not self.loop.is_closed():
            with contextlib.suppress(RuntimeError):  # it cancels when (if) the loop runs again
                self.loop.call_soon_threadsafe(self._cancel_all)

    def _cancel_all(self) -> None:
        for task in [*self._jobs.values(), *([self._task] if self._task else [])]:
            task.cancel()

    async def aclose(self, timeout: float | None = 10.0) -> None:
        """Let jobs in flight finish (up to ``timeout``), then end the task. On its loop."""
        self._closing = True
        if self._wake is not None:
            self._wake.set()
        jobs = list(self._jobs.values())
        if jobs:
            await asyncio.wait(jobs, timeout=timeout)
        task = self._task
        leftover = [j for j in jobs if not j.done()]
        for t in [*leftover, *([task] if task is not None else [])]:
            t.cancel()
        await asyncio.gather(*leftover, *([task] if task is not None else []),
                             return_exceptions=True)

    async def drain(self, timeout: float | None = None) -> bool:
        """Wait until a pass that started after this call found the outbox empty.

        False on timeout, or when the worker stopped first. Await it on the worker's loop.
        """
        if not self.alive or self.loop is None or self._wake is None:
            return False
        self._asked += 1
        waiter: asyncio.Future[bool] = self.loop.create_future()
        entry = (self._asked, waiter)
        self._waiters.append(entry)
        self._wake.set()
        try:
            done, _ = await asyncio.wait({waiter}, timeout=timeout)
            return bool(waiter.result()) if done else False
        finally:
            with contextlib.suppress(ValueError):
                self._waiters.remove(entry)

    # the dispatcher
    async def _run(self) -> None:
        assert self._wake is not None
        if self._task_init is not None:
            self._task_init()
        failures = 0
        while not self._closing:
            self._wake.clear()
            generation = self._asked
            try:
                waiting = await self._pass(generation)
                failures = 0
                report_failing(self._inflight, "extract", False)
                delay = self.policy.next_retry_delay() if waiting else None
            except Exception as e:
                failures += 1
                log.warning("memori: augmentation pass failed (%s)", describe_error(e))
                report_failing(self._inflight, "extract", True)
                delay = self.policy.failed_pass_delay(failures)
            if self._closing:
                break
            with contextlib.suppress(asyncio.TimeoutError):  # Python 3.10: not TimeoutError
                await asyncio.wait_for(self._wake.wait(), timeout=delay)

    async def _pass(self, generation: int) -> bool:
        """Start the jobs that are ready; returns whether turns wait (retry or busy)."""
        assert self._slots is not None
        self._ended_jobs.clear()
        self._stale = False
        limit = self.policy.fetch_limit(self._busy_turns)
        read_at = time.monotonic()
        pending = await self._pending(limit)
        if not pending and not self._jobs:
            self._idle(generation)
            return False
        # a job that ended while we read may have marked turns we still see as pending:
        # its entity waits for the next pass (the job's end woke the dispatcher)
        plan = self.policy.plan(pending, busy_entities=self._jobs.keys() | self._ended_jobs)
        if plan.waiting or len(pending) >= limit:
            self._stale = True  # read again once a job ends
        for job in plan.jobs:
            await self._slots.acquire()
            if self._closing:
                self._slots.release()
                break
            self._launch(job, read_at)
        return plan.waiting

    def _launch(self, job: EntityJob, read_at: float) -> None:
        assert self.loop is not None
        self._busy_turns += job.turn_count
        task = self.loop.create_task(self._run_job(job, read_at),
                                     name=f"memori-extract-{id(job):x}")
        self._jobs[job.entity_id] = task

    async def _run_job(self, job: EntityJob, read_at: float) -> None:
        try:
            for batch in job.batches:
                if self._closing:
                    break
                await self._process(list(batch), read_at)
        except Exception as e:  # the store failed while marking: the turns stay pending
            log.warning("memori: augmentation job failed (%s)", describe_error(e))
            self._stale = True  # read the outbox again: they are taken up in a next pass
        finally:
            self._jobs.pop(job.entity_id, None)
            self._ended_jobs.add(job.entity_id)
            self._busy_turns -= job.turn_count
            if self._slots is not None:
                self._slots.release()
            if self._wake is not None and (self._stale or self._waiters):
                self._wake.set()  # else the last read planned everything: nothing to read

    async def _process(self, turns: list[Turn], read_at: float) -> None:
        done = self.policy.succeeded(turns)  # a failure below sets a new retry time
        try:
            with self._observer.extraction(turns, self.extractor) as span:
                aextract = getattr(self.extractor, "aextract", None)
                if aextract is not None:
                    candidates: list[Memory] = await aextract(
                        self.policy.extraction_input(turns))
                    changed = await asyncio.to_thread(
                        self._commit, done, turns, candidates, read_at)
                else:  # one thread hop for a sync extractor: extract, reconcile, mark
                    changed = await asyncio.to_thread(
                        self._commit, done, turns, None, read_at)
                span.extracted(changed)
        except Exception as e:
            self.stats.failure(turns, e)
            marks = self.policy.failed(turns, e)
            for mark in marks:
                await self._mark(mark)
            self.stats.parked += parked_count(marks)
            return
        self.stats.processed += len(turns)
        self.stats.memories += len(changed)

    def _commit(
        self, done: Mark, turns: list[Turn], candidates: list[Memory] | None, read_at: float
    ) -> list[Memory]:
        """(Extract with the sync extractor,) reconcile and mark done, in one thread call:
        once it starts, cancelling the task (``asyncio.run`` ending) cannot leave
        memories stored but their turns unmarked. Nothing is written for an entity
        forgotten since the batch was read."""
        if self._gate is not None:
            self._gate.wait_idle()  # in the worker thread: the loop never waits here
        if candidates is None:
            candidates = self.extractor.extract(self.policy.extraction_input(turns))
        with applying(self._inflight, done.entity_id, read_at) as wanted:
            if not wanted:
                return []
            stamped = self.policy.candidates(candidates, turns)
            changed = self.reconciler.apply(stamped)
            self.store.outbox_mark(done.entity_id, done.turn_ids, done.state)
        self._settled(done)
        return take_back_forgotten(self.store, turns, {c.id for c in stamped}, changed)

    def _settled(self, mark: Mark) -> None:
        if self._inflight is not None and mark.state is not ExtractState.PENDING:
            self._inflight.finish(mark.entity_id, mark.turn_ids)

    # store I/O: native async when the store has it, else in a thread
    async def _pending(self, limit: int) -> list[Turn]:
        if isinstance(self.store, SupportsAsyncOutbox):
            return await self.store.aoutbox_pending(limit)
        return await asyncio.to_thread(self.store.outbox_pending, limit)

    async def _mark(self, mark: Mark) -> None:
        if isinstance(self.store, SupportsAsyncOutbox):
            await self.store.aoutbox_mark(mark.entity_id, mark.turn_ids, mark.state,
                                          attempts=mark.attempts, error=mark.error)
        else:
            await asyncio.to_thread(self.store.outbox_mark, mark.entity_id, mark.turn_ids,
                                    mark.state, attempts=mark.attempts, error=mark.error)
        self._settled(mark)

    # drain bookkeeping
    def _idle(self, generation: int) -> None:
        for target, waiter in list(self._waiters):
            if target <= generation and not waiter.done():
                waiter.set_result(True)

    def _ended(self, task: asyncio.Task[None]) -> None:
        self._closing = True
        if not task.cancelled() and task.exception() is not None:
            log.error("memori: the augmentation task ended (%s); turns stay pending",
                      type(task.exception()).__name__)
        for _, waiter in self._waiters:
            if not waiter.done():
                waiter.set_result(False)



def on_thread_of(loop: asyncio.AbstractEventLoop | None) -> bool:
    """Whether the calling thread is the one running ``loop``."""
    if loop is None:
        return False
    try:
        return asyncio.get_running_loop() is loop
    except RuntimeError:
        return False
