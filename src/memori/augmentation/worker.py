"""The augmentation worker: drains the durable outbox into memories.

Turns are stored first with ``extract_state = pending`` and an outbox row; the
worker (one background thread) picks pending turns oldest first, runs the
extractor, reconciles the candidates into the store and marks the turns done.
A crash at any point loses nothing: unmarked turns stay pending and the next
process picks them up; memory ids derive from the turn, so a re-run is a no-op.
Failures are retried with backoff; a turn that keeps failing is parked with the
reason and not retried again.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from memori.augmentation.reconcile import Reconciler
from memori.core import Extractor, ExtractState, MemoryStore, Turn

log = logging.getLogger("memori.augmentation")


@dataclass
class AugmentationStats:
    processed: int = 0
    failed: int = 0
    parked: int = 0
    memories: int = 0


def derived_id(turn_ids: Sequence[str], index: int, content: str) -> str:
    """A stable memory id for the ``index``-th candidate extracted from these turns."""
    h = hashlib.blake2b(digest_size=16)
    for part in (*turn_ids, str(index), content):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


class OutboxWorker:
    """Background extraction from the store's outbox (see module docstring)."""

    def __init__(
        self, store: MemoryStore, extractor: Extractor, reconciler: Reconciler, *,
        batch_size: int = 32, max_attempts: int = 4, base_backoff: float = 0.05,
        thread_init: Callable[[], object] | None = None,
    ) -> None:
        """``thread_init`` runs first in the worker thread (e.g. to pause interception)."""
        self.store = store
        self.extractor = extractor
        self.reconciler = reconciler
        self.batch_size = batch_size
        self.max_attempts = max_attempts
        self.base_backoff = base_backoff
        self.stats = AugmentationStats()
        self._cond = threading.Condition()
        self._wakeups = 0
        self._idle_after = 0.0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._retry_at: dict[str, float] = {}
        self._thread_init = thread_init

    def notify(self) -> None:
        """New turns were stored: wake the worker."""
        with self._cond:
            self._wakeups += 1
            self._ensure_thread()
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if not self._closed and (self._thread is None or not self._thread.is_alive()):
            self._thread = threading.Thread(
                target=self._run, name="memori-augmentation", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        if self._thread_init is not None:
            self._thread_init()
        while True:
            with self._cond:
                if self._closed:
                    return
                seen = self._wakeups
            started = time.time()
            try:
                worked, waiting = self.run_once()
            except Exception as e:
                log.warning("memori: augmentation pass failed (%s)", type(e).__name__)
                worked, waiting = False, True
                time.sleep(self.base_backoff)
            if worked:
                continue
            with self._cond:
                if not waiting:
                    self._idle_after = started
                    self._cond.notify_all()
                if self._wakeups == seen and not self._closed:
                    self._cond.wait(timeout=self._next_retry_delay())

    def _next_retry_delay(self) -> float | None:
        if not self._retry_at:
            return None
        return max(0.0, min(self._retry_at.values()) - time.monotonic())

    def run_once(self) -> tuple[bool, bool]:
        """Process one batch. Returns (worked, waiting): whether a batch was processed,
        and whether turns remain that wait for a retry."""
        pending = self.store.outbox_pending(self.batch_size)
        clock = time.monotonic()
        ready = [t for t in pending if self._retry_at.get(t.id, 0.0) <= clock]
        if not ready:
            return False, bool(pending)
        by_entity: dict[str, list[Turn]] = defaultdict(list)
        for turn in ready:
            by_entity[turn.entity_id].append(turn)
        for entity_id, turns in by_entity.items():
            self._process(entity_id, turns)
        return True, False

    def _process(self, entity_id: str, turns: list[Turn]) -> None:
        try:
            candidates = self.extractor.extract(turns)
            stamped = [
                replace(m, id=derived_id(m.source_turn_ids or [t.id for t in turns], i, m.content))
                for i, m in enumerate(candidates)
            ]
            changed = self.reconciler.apply(stamped)
        except Exception as e:
            self._failed(entity_id, turns, e)
            return
        self.store.outbox_mark(entity_id, [t.id for t in turns], ExtractState.DONE)
        for t in turns:
            self._retry_at.pop(t.id, None)
        self.stats.processed += len(turns)
        self.stats.memories += len(changed)

    def _failed(self, entity_id: str, turns: list[Turn], error: Exception) -> None:
        self.stats.failed += 1
        reason = f"{type(error).__name__}: {str(error)[:200]}"
        log.warning("memori: extraction of %d turn(s) failed (%s)",
                    len(turns), type(error).__name__)
        for turn in turns:
            attempts = turn.extract_attempts + 1
            if attempts >= self.max_attempts:
                self.store.outbox_mark(entity_id, [turn.id], ExtractState.PARKED,
                                       attempts=attempts, error=reason)
                self._retry_at.pop(turn.id, None)
                self.stats.parked += 1
            else:
                self.store.outbox_mark(entity_id, [turn.id], ExtractState.PENDING,
                                       attempts=attempts, error=reason)
                self._retry_at[turn.id] = time.monotonic() + self.base_backoff * 2 ** attempts

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until the worker found the outbox empty after this call; False on timeout."""
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


