"""The recorder: turns are journaled in the caller's thread, then embedded and stored.

``submit`` appends the turns to the local journal (so they survive SIGKILL once
the call returns) and queues them; one background thread embeds queued turns in
batches and appends them to the store, then confirms them in the journal.

The queue in memory is bounded (``max_queue`` turns). Once it is full (the store
has been down for a while in a busy application) turns are kept in the journal
only, in order, and read back from it as the queue drains: nothing is dropped
while there is a journal. Without one (``durability="memory"``) turns beyond the
bound are dropped, counted and logged.

Failures are told apart:
- the store is unreachable (``StoreUnavailableError``, ``OSError``): the batch is
  kept and retried with exponential backoff and jitter;
- anything else may be one bad turn: the batch is written again turn by turn, so
  every other turn lands; a turn that fails alone while others land (or keeps
  failing) is rejected: moved to the journal's rejected file with its reason,
  counted, and reported by ``flush()`` (``Memori.retry()`` records it again).

``flush()`` returns once everything queued before it is stored, and raises
:class:`~memori.core.FlushError` (naming the cause, never message text) when
turns were rejected or the store has kept failing for ``stall_seconds``.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from itertools import islice

from memori.core import Embedder, MemoryStore, StoreUnavailableError, Turn
from memori.core.errors import FlushError
from memori.observability.logs import describe_error, describe_reason, logs_content
from memori.pipeline.gate import ForegroundGate
from memori.pipeline.inflight import InFlight, report_failing
from memori.pipeline.journal import Journal
from memori.pipeline.outbox_logic import failure_reason

log = logging.getLogger(__name__)

EMBED_MAX_CHARS = 16_384
"""Text an embedder is given of one turn (the local model reads 256 tokens of it)."""
MAX_TURN_ATTEMPTS = 8
STALL_SECONDS = 5.0
READ_BACK_TURNS = 1024
"""Turns read back from the journal at a time once the queue has room again."""


@dataclass
class RecorderStats:
    queued: int = 0
    written: int = 0
    write_failures: int = 0
    dropped: int = 0
    rejected: int = 0


class TurnRecorder:
    """Journal + bounded queue + one writer thread. Thread-safe; never blocks the caller on
    the store (the journal append is one local file write)."""

    def __init__(
        self, store: MemoryStore, embedder: Embedder | None, *,
        max_queue: int = 10_000, batch_size: int = 64,
        on_written: Callable[[Sequence[Turn]], None] | None = None,
        max_backoff: float = 5.0, gate: ForegroundGate | None = None,
        journal: Journal | None = None, inflight: InFlight | None = None,
        stall_seconds: float = STALL_SECONDS,
    ) -> None:
        self._store = store
        self._embedder = embedder
        self._queue: deque[Turn] = deque()
        # (entity, id) of turns kept in the journal only
        self._spilled: deque[tuple[str, str]] = deque()
        self._max_queue = max_queue
        self._batch_size = batch_size
        self._on_written = on_written
        self._max_backoff = max_backoff
        self._gate = gate
        self.journal = journal
        self._inflight = inflight
        self.stall_seconds = stall_seconds
        self._cond = threading.Condition()
        self._enqueued = 0
        self._done = 0
        self._closed = False
        self._thread: threading.Thread | None = None
        self._probe = 0  # turns still to write one by one after a batch failed
        self._probe_landed = False
        self._failures: dict[str, int] = {}
        self._failing_since: float | None = None
        self._failed_at = 0.0  # when the last write failed (monotonic)
        self.last_error: str | None = None
        self._rejections: list[tuple[int, str]] = []  # (done count when rejected, reason)
        self._reported = 0  # rejections up to this done count were reported by a flush
        self.stats = RecorderStats()

    def submit(self, turns: Sequence[Turn]) -> None:
        """Journal and queue turns for writing; once the queue is full they wait in the
        journal only (without a journal: dropped and counted)."""
        if not turns:
            return
        with self._cond:
            if self._closed:
                raise RuntimeError("this Memori is closed")
            # behind turns kept in the journal, every turn waits there too: order is kept
            room = 0 if self._spilled else max(self._max_queue - len(self._queue), 0)
            accepted, overflow = list(turns[:room]), list(turns[room:])
            self._journal(accepted + overflow)
            if overflow and self.journal is None:  # no journal, or it failed just now
                self.stats.dropped += len(overflow)
                log.error("memori: write queue full, %d turn(s) dropped", len(overflow))
                overflow = []
            if overflow and not self._spilled:
                log.warning("memori: write queue full (%d turns): turns wait in the journal "
                            "until the store takes them", len(self._queue))
            kept = accepted + overflow
            if not kept:
                return
            self._queue.extend(accepted)
            self._spilled.extend((t.entity_id, t.id) for t in overflow)
            self._enqueued += len(kept)
            self.stats.queued = len(self._queue) + len(self._spilled)
            if self._inflight is not None:
                self._inflight.add(kept)
            self._ensure_thread()
            self._cond.notify_all()

    def _journal(self, turns: list[Turn]) -> None:
        if self.journal is None:
            return
        try:
            self.journal.append(turns)
        except OSError as e:  # fail open: keep recording, without the crash guarantee
            log.error("memori: the local journal failed (%s: %s); turns recorded from now "
                      "on are lost if the process is killed before they are stored",
                      type(e).__name__, e)
            self.journal = None

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
                while not self._queue and not self._spilled and not self._closed:
                    self._cond.wait()
                if not self._queue and self._closed:
                    return  # turns kept in the journal only stay there for the next process
                wanted = self._to_read_back()
                size = 1 if self._probe > 0 else self._batch_size
                batch = [self._queue[i] for i in range(min(size, len(self._queue)))]
            if wanted:
                self._read_back(wanted)
                continue
            if self._gate is not None:
                self._gate.wait_idle()
            try:
                self._write(batch)
            except Exception as e:
                if self._failed(batch, e):
                    with self._cond:
                        if self._closed:
                            return
                        self._cond.wait(timeout=backoff * random.uniform(0.5, 1.5))
                    backoff = min(backoff * 2, self._max_backoff)
                continue
            backoff = 0.05
            self._landed(batch)

    def _to_read_back(self) -> list[tuple[str, str]]:
        """(entity, id) of journal-only turns to queue again: once the queue is down to half its
        bound, as many as fit, at most ``READ_BACK_TURNS`` at a time (reading them holds
        the journal, which callers append to) (under ``_cond``)."""
        if not self._spilled or len(self._queue) > self._max_queue // 2:
            return []
        room = min(self._max_queue - len(self._queue), READ_BACK_TURNS)
        return list(islice(self._spilled, room))

    def _read_back(self, wanted: list[tuple[str, str]]) -> None:
        """Queue the turns ``wanted`` again from the journal (outside ``_cond``: turns
        submitted meanwhile wait behind them, as ``_spilled`` is not empty). A turn no
        longer there (its entity was forgotten) counts as done; turns that cannot be
        read are counted as dropped (their lines stay for the next process). Either way
        no call waits for them any more (read-your-writes)."""
        try:
            if self.journal is None:  # it failed since: they are in its file, not here
                raise OSError("the journal failed")
            turns = self.journal.read(turn_id for _, turn_id in wanted)
        except OSError as e:  # they stay in the journal file for the next process
            log.error("memori: reading %d turn(s) back from the journal failed (%s); they "
                      "stay there for the next process", len(wanted), type(e).__name__)
            turns = []
            self.stats.dropped += len(wanted)
        with self._cond:
            for _ in wanted:
                self._spilled.popleft()
            self._queue.extend(turns)
            gone = len(wanted) - len(turns)
            if gone:
                self._done += gone
                self._cond.notify_all()
        if gone and self._inflight is not None:
            found = {t.id for t in turns}
            lost: dict[str, list[str]] = {}
            for entity_id, turn_id in wanted:
                if turn_id not in found:
                    lost.setdefault(entity_id, []).append(turn_id)
            for entity_id, ids in lost.items():
                self._inflight.finish(entity_id, ids)

    def _write(self, batch: list[Turn]) -> None:
        if self._embedder is not None and self._store.vector_dim is not None:
            missing = [t for t in batch if t.embedding is None and t.content]
            if missing:
                vectors = self._embedder.embed([t.content[:EMBED_MAX_CHARS] for t in missing])
                by_id = {t.id: tuple(v) for t, v in zip(missing, vectors, strict=True)}
                batch = [_with_embedding(t, by_id.get(t.id)) for t in batch]
        self._store.append_turns(batch)

    def _landed(self, batch: list[Turn]) -> None:
        ids = [t.id for t in batch]
        with self._cond:
            for _ in batch:
                self._queue.popleft()
            for turn_id in ids:
                self._failures.pop(turn_id, None)
            if self._probe > 0:
                self._probe = max(self._probe - len(batch), 0)
                self._probe_landed = self._probe > 0
            self._failing_since = None
            self._done += len(batch)
            self.stats.written += len(batch)
            self.stats.queued = len(self._queue) + len(self._spilled)
            self._cond.notify_all()
        if self.journal is not None:
            try:
                self.journal.confirm(ids)
            except OSError as e:
                log.warning("memori: confirming turns in the journal failed (%s)",
                            type(e).__name__)
        report_failing(self._inflight, "write", False)
        if self._on_written is not None:
            try:
                self._on_written(batch)
            except Exception as e:  # the traceback only on request: it may quote stored text
                log.error("memori: post-write hook failed (%s)", describe_error(e),
                          exc_info=logs_content())

    def _failed(self, batch: list[Turn], error: Exception) -> bool:
        """Decide what a failed write means; True when the writer should back off."""
        reason = failure_reason(error)
        self.stats.write_failures += 1
        with self._cond:
            self.last_error = reason
            self._failed_at = time.monotonic()
            if self._failing_since is None:
                self._failing_since = time.monotonic()
            self._cond.notify_all()
        if isinstance(error, StoreUnavailableError | OSError):
            report_failing(self._inflight, "write", True)
            log.warning("memori: writing %d turn(s) failed (%s); will retry",
                        len(batch), describe_error(error))
            return True
        if len(batch) > 1:  # perhaps one bad turn: write them one by one
            with self._cond:
                self._probe, self._probe_landed = len(batch), False
            log.warning("memori: writing %d turn(s) failed (%s); writing them one by one",
                        len(batch), describe_error(error))
            return False
        turn = batch[0]
        attempts = self._failures.get(turn.id, 0) + 1
        self._failures[turn.id] = attempts
        if (self._probe_landed and attempts >= 2) or attempts >= MAX_TURN_ATTEMPTS:
            self._reject(turn, reason)
            return False
        with self._cond:
            if self._probe > 1 and attempts == 1:  # let the others of the batch go first
                self._queue.popleft()
                self._queue.insert(self._probe - 1, turn)
                return False
        log.warning("memori: writing a turn failed (%s); will retry", describe_error(error))
        return True

    def _reject(self, turn: Turn, reason: str) -> None:
        log.error("memori: a turn could not be stored and was set aside (%s); "
                  "'memori retry' records it again", describe_reason(reason))
        if self.journal is not None:
            try:
                self.journal.reject(turn, reason)
            except OSError as e:
                log.error("memori: keeping the rejected turn failed (%s)", type(e).__name__)
        with self._cond:
            self._queue.popleft()
            self._failures.pop(turn.id, None)
            if self._probe > 0:
                self._probe -= 1
                if self._probe == 0:
                    self._probe_landed = False
            self._done += 1
            self.stats.rejected += 1
            self._rejections.append((self._done, reason))
            self.stats.queued = len(self._queue) + len(self._spilled)
            self._cond.notify_all()
        if self._inflight is not None:
            self._inflight.finish(turn.entity_id, [turn.id])

    def pending(self) -> int:
        """Turns not stored yet: queued, or waiting in the journal only."""
        with self._cond:
            return len(self._queue) + len(self._spilled)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait until every turn queued before this call is stored; False on timeout.

        Raises :class:`FlushError` when some of them were rejected (set aside) and no
        flush has said so yet, even if that happened before this call, or when the store
        has failed without a success for ``stall_seconds`` (the turns stay journaled
        and queued, and writing goes on in the background).
        """
        began = time.monotonic()
        deadline = None if timeout is None else began + timeout
        with self._cond:
            start, target = self._reported, self._enqueued
            self._cond.notify_all()  # a writer backing off retries now: the store may be back
            while self._done < target:
                stalled = self._stalled(began)
                if stalled:
                    raise FlushError(
                        f"{target - self._done} turn(s) not stored: the store has failed for "
                        f"{stalled:.1f} s ({self.last_error}); they stay journaled and are "
                        "retried in the background", turns=target - self._done,
                        cause=self.last_error)
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0:
                    return False
                wait = self.stall_seconds if remaining is None else min(
                    remaining, self.stall_seconds)
                self._cond.wait(timeout=max(wait / 4, 0.01))
            bad = [reason for done, reason in self._rejections if start < done <= target]
            self._reported = max(self._reported, target)
        if bad:
            raise FlushError(
                f"{len(bad)} turn(s) could not be stored and were set aside ({bad[-1]}); "
                "'memori retry' or Memori.retry() records them again",
                turns=len(bad), cause=bad[-1])
        return True

    def _stalled(self, began: float) -> float:
        """Seconds the store has failed without a success while this flush waited (0 when
        below ``stall_seconds``, or when no write has failed since the flush began: an
        error from before it says nothing of a store that may be back)."""
        if self._failing_since is None or self._failed_at < began:
            return 0.0
        elapsed = time.monotonic() - max(self._failing_since, began)
        return elapsed if elapsed >= self.stall_seconds else 0.0

    def close(self, timeout: float | None = None) -> bool:
        """Flush (bounded by ``timeout``), then stop the writer thread; turns not stored
        stay in the journal for the next process."""
        try:
            ok = self.flush(timeout)
        except FlushError as e:
            log.error("memori: %s", describe_error(e))
            ok = False
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
        if self.journal is not None and (self._thread is None or not self._thread.is_alive()):
            self.journal.close()
        return ok


def _with_embedding(turn: Turn, vector: tuple[float, ...] | None) -> Turn:
    return turn if vector is None else replace(turn, embedding=vector)
