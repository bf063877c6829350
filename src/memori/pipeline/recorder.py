"""The write-behind recorder: turns are queued right after a call and written durably.

A single background thread embeds queued turns in batches and appends them to
the store. If the store fails, the batch stays queued and is retried with
backoff (the failure is logged without message text and counted), so turns
recorded while the database is down land when it comes back. ``flush()``
returns once everything queued before the call is written.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from memori.core import Embedder, MemoryStore, Turn
from memori.pipeline.gate import ForegroundGate

log = logging.getLogger(__name__)


@dataclass
class RecorderStats:
    queued: int = 0
    written: int = 0
    write_failures: int = 0
    dropped: int = 0


class TurnRecorder:
    """Bounded queue + one writer thread. Thread-safe; never blocks the caller on I/O."""

    def __init__(
        self, store: MemoryStore, embedder: Embedder | None, *,
        max_queue: int = 10_000, batch_size: int = 64,
        on_written: Callable[[Sequence[Turn]], None] | None = None,
        max_backoff: float = 5.0, gate: ForegroundGate | None = None,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._queue: deque[Turn] = deque()
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._on_written = on_written
        self._max_backoff = max_backoff
        self._gate = gate
        self._cond = threading.Condition()
        self._enqueued = 0
        self._done = 0
        self._closed = False
        self._give_up = False
        self._thread: threading.Thread | None = None
        self.stats = RecorderStats()

    def submit(self, turns: Sequence[Turn]) -> None:
        """Queue turns for writing; drops (and counts) what exceeds the bound."""
        if not turns:
            return
        with self._cond:
            if self._closed:
                raise RuntimeError("this Memori is closed")
            room = self._max_queue - len(self._queue)
            accepted = list(turns[: max(room, 0)])
            if len(accepted) < len(turns):
                self.stats.dropped += len(turns) - len(accepted)
                log.error("memori: write queue full, %d turn(s) dropped",
                          len(turns) - len(accepted))
            self._queue.extend(accepted)
            self._enqueued += len(accepted)
            self.stats.queued = len(self._queue)
            self._ensure_thread()
            self._cond.notify_all()

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._run, name="memori-recorder", daemon=True
            )
            self._thread.start()

    def _run(self) -> None:
        backoff = 0.05
        while True:
            with self._cond:
                while not self._queue and not self._closed:
                    self._cond.wait()
                if not self._queue and self._closed:
                    return
                batch = [self._queue[i] for i in range(min(self._batch_size, len(self._queue)))]
            if self._gate is not None:
                self._gate.wait_idle()
            try:
                self._write(batch)
            except Exception as e:  # fail open: keep the batch and retry
                self.stats.write_failures += 1
                log.warning("memori: writing %d turn(s) failed (%s); will retry",
                            len(batch), type(e).__name__)
                with self._cond:
                    self._cond.wait(timeout=backoff)
                    if self._closed and self._give_up:
                        return
                backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 0.05
            with self._cond:
                for _ in batch:
                    self._queue.popleft()
                self._done += len(batch)
                self.stats.written += len(batch)
                self.stats.queued = len(self._queue)
                self._cond.notify_all()
            if self._on_written is not None:
                try:
                    self._on_written(batch)
                except Exception:
                    log.exception("memori: post-write hook failed")

    def _write(self, batch: list[Turn]) -> None:
        if self._embedder is not None and self._store.vector_dim is not None:
            missing = [t for t in batch if t.embedding is None and t.content]
            if missing:
                vectors = self._embedder.embed([t.content for t in missing])
                by_id = {t.id: tuple(v) for t, v in zip(missing, vectors, strict=True)}
                batch = [_with_embedding(t, by_id.get(t.id)) for t in batch]
        self._store.append_turns(batch)

    def pending(self) -> int:
        with self._cond:
            return len(self._queue)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every turn queued before this call is written; False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._cond:
            target = self._enqueued
            while self._done < target:
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                self._cond.wait(timeout=remaining)
        return True

    def close(self, timeout: float | None = None) -> bool:
        """Flush (bounded by ``timeout``), then stop the writer thread."""
        ok = self.flush(timeout)
        with self._cond:
            self._closed = True
            self._give_up = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        return ok


def _with_embedding(turn: Turn, vector: tuple[float, ...] | None) -> Turn:
    return turn if vector is None else replace(turn, embedding=vector)
