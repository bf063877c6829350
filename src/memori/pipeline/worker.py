"""The augmentation thread worker: drains the durable outbox into memories.

Turns are stored first with ``extract_state = pending`` and an outbox row; the
worker (one background thread) picks pending turns oldest first, runs the
extractor, reconciles the candidates into the store and marks the turns done.
A crash at any point loses nothing: unmarked turns stay pending and the next
process picks them up; memory ids derive from the turn, so a re-run is a no-op.
Failures are retried with backoff; a turn that keeps failing is parked with the
reason and not retried again. The decisions live in ``outbox_logic`` and are
shared with the task worker that async applications run (``async_worker``).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from memori.core import Extractor, ExtractState, MemoryStore, Turn
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
    derived_id,
    is_shutdown_error,
    parked_count,
)
from memori.pipeline.reconcile import Reconciler

__all__ = ["AugmentationStats", "OutboxWorker", "derived_id"]

log = logging.getLogger(__name__)


class OutboxWorker:
    """Background extraction from the store's outbox (see module docstring)."""

    def __init__(
        self, store: MemoryStore, extractor: Extractor, reconciler: Reconciler, *,
        batch_size: int = 32, max_attempts: int = 4, base_backoff: float = 0.05,
        thread_init: Callable[[], object] | None = None,
        policy: OutboxPolicy | None = None, stats: AugmentationStats | None = None,
        gate: ForegroundGate | None = None, inflight: InFlight | None = None,
    ) -> None:
        """``thread_init`` runs first in the worker thread (e.g. to pause interception).
        ``policy`` and ``stats`` are shared with the runner.
        ``gate``: each batch waits (briefly) for foreground reads to finish.
        ``inflight``: told when turns are done or parked (read-your-writes)."""
        self.store = store
        self.extractor = extractor
        self.reconciler = reconciler
        self.policy = policy or OutboxPolicy(batch_size, max_attempts, base_backoff)
        self.stats = stats or AugmentationStats()
        self._cond = threading.Condition()
        self._wakeups = 0
        self._idle_after = 0.0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._thread_init = thread_init
        self._gate = gate
        self._inflight = inflight
        self._observer = observer_of(store)

    def notify(self) -> None:
        """New turns were stored: wake the worker."""
        with self._cond:
            self._wakeups += 1
            self._ensure_thread()
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._closed:
            return
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="memori-augmentation", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        if self._thread_init is not None:
            self._thread_init()
        failures = 0
        while True:
            with self._cond:
                if self._closed:
                    self._cond.notify_all()
                    return
                seen = self._wakeups
            started = time.time()
            try:
                worked, waiting = self.run_once()
            except Exception as e:
                if is_shutdown_error(e):
                    return  # the interpreter is exiting: pending turns wait for the next run
                failures += 1
                log.warning("memori: augmentation pass failed (%s)", describe_error(e))
                report_failing(self._inflight, "extract", True)
                worked, waiting = False, True  # the outbox is unread: come back on its own
                delay: float | None = self.policy.failed_pass_delay(failures)
            else:
                failures = 0
                report_failing(self._inflight, "extract", False)
                delay = self.policy.next_retry_delay()
            if worked:
                continue
            with self._cond:
                if not waiting:
                    self._idle_after = started
                    self._cond.notify_all()
                if self._wakeups == seen and not self._closed:
                    self._cond.wait(timeout=delay)

    def run_once(self) -> tuple[bool, bool]:
        """Process one round of batches. Returns (worked, waiting): whether a batch was
        processed, and whether turns remain that wait for a retry."""
        read_at = time.monotonic()
        pending = self.store.outbox_pending(self.policy.fetch_limit())
        plan = self.policy.plan(pending)
        if not plan.jobs:
            return False, bool(pending)
        for job in plan.jobs:
            self._run_job(job, read_at)
        return True, False

    def _run_job(self, job: EntityJob, read_at: float) -> None:
        for batch in job.batches:
            self._process(list(batch), read_at)

    def _process(self, turns: list[Turn], read_at: float) -> None:
        if self._gate is not None:
            self._gate.wait_idle()
        try:
            with self._observer.extraction(turns, self.extractor) as span:
                found = self.extractor.extract(self.policy.extraction_input(turns))
                with applying(self._inflight, turns[0].entity_id, read_at) as wanted:
                    if not wanted:  # forgotten meanwhile: its turns are gone, write nothing
                        return
                    candidates = self.policy.candidates(found, turns)
                    changed = self.reconciler.apply(candidates)
                    self._mark(self.policy.succeeded(turns))
                changed = take_back_forgotten(self.store, turns, {c.id for c in candidates},
                                              changed)
                span.extracted(changed)
        except Exception as e:
            self._failed(turns, e)
            return
        self.stats.processed += len(turns)
        self.stats.memories += len(changed)

    def _failed(self, turns: list[Turn], error: Exception) -> None:
        self.stats.failure(turns, error)
        marks = self.policy.failed(turns, error)
        for mark in marks:
            self._mark(mark)
        self.stats.parked += parked_count(marks)

    def _mark(self, mark: Mark) -> None:
        self.store.outbox_mark(mark.entity_id, mark.turn_ids, mark.state,
                               attempts=mark.attempts, error=mark.error)
        if self._inflight is not None and mark.state is not ExtractState.PENDING:
            self._inflight.finish(mark.entity_id, mark.turn_ids)

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until the worker found the outbox empty after this call; False on timeout
        (or when the worker is closed)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        asked = time.time()
        with self._cond:
            self._wakeups += 1
            self._ensure_thread()
            self._cond.notify_all()
            while self._idle_after < asked:
                if self._thread is None or not self._thread.is_alive():
                    return False
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(timeout=remaining)
        return True

    def lag(self) -> float:
        """Seconds since the oldest turn still waiting was recorded (0 when none)."""
        pending = self.store.outbox_pending(1)
        return max(0.0, time.time() - pending[0].created_at) if pending else 0.0

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
