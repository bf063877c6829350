"""One object for the whole write path of a ``Memori``: record, wait, flush, retry, close.

``record`` journals and queues turns (:class:`TurnRecorder`); once stored they
wake the extraction worker (:class:`AugmentationRunner`), whose marks settle the
turns in :class:`InFlight`, which the next read of the same entity waits for.
At start the write path replays the journals of processes that died and resumes
the extraction of turns a previous process left pending.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from memori.core import Embedder, ExtractState, MemoryStore, Turn
from memori.core.errors import FlushError
from memori.observability.logs import describe_error
from memori.pipeline import journal as journals
from memori.pipeline.gate import ForegroundGate
from memori.pipeline.inflight import READ_YOUR_WRITES_SECONDS, Conversation, InFlight
from memori.pipeline.journal import Journal
from memori.pipeline.outbox_logic import AugmentationStats, OutboxPolicy
from memori.pipeline.reconcile import Reconciler
from memori.pipeline.recorder import TurnRecorder
from memori.pipeline.runner import AugmentationRunner, FlushOnLoopError

log = logging.getLogger(__name__)

RETRY_BATCH = 500


@dataclass(frozen=True)
class Metrics:
    """Pipeline counters: turns queued/written/rejected, augmentation processed/failed/parked,
    lag (s), and the cause of the latest failure."""

    queued: int
    written: int
    write_failures: int
    dropped: int
    processed: int
    failed: int
    parked: int
    memories: int
    lag: float
    rejected: int = 0
    last_error: str | None = None


class WritePath:
    """The recorder, the extraction runner and the in-flight tracker of one store."""

    def __init__(
        self, store: MemoryStore, embedder: Embedder | None, extractor: Any,
        reconciler: Reconciler, *, journal: Journal | None = None,
        gate: ForegroundGate | None = None, context_init: Callable[[], object] | None = None,
        policy: OutboxPolicy | None = None,
        read_your_writes: float = READ_YOUR_WRITES_SECONDS,
    ) -> None:
        """``extractor`` None: turns are stored, not extracted. ``context_init`` runs first
        in the extraction thread or task (the facade pauses interception there)."""
        self.store = store
        self.inflight = InFlight()
        self._parked_reported = 0  # parked turns a flush has reported (stats.parked)
        self.read_your_writes = read_your_writes
        self.runner: AugmentationRunner | None = None
        if extractor is not None:
            self.runner = AugmentationRunner(
                store, extractor, reconciler, context_init=context_init, gate=gate,
                policy=policy, inflight=self.inflight,
            )
        self.recorder = TurnRecorder(
            store, embedder, on_written=self.written, gate=gate, journal=journal,
            inflight=self.inflight,
        )

    def start(self) -> int:
        """Replay dead processes' journals and resume pending extraction; turns replayed."""
        replayed = 0
        journal = self.recorder.journal
        if journal is not None:
            turns, files = journals.recover(journal.directory)
            if turns:
                self.recorder.submit(turns)
                replayed = len(turns)
                log.info("memori: %d turn(s) recovered from the journal of a stopped process",
                         replayed)
            journals.discard(files)
        if self.runner is not None and self.runner.thread is not None:
            self.runner.thread.notify()  # picks up turns a previous run left pending
        return replayed

    def record(self, turns: Sequence[Turn]) -> None:
        self.recorder.submit(turns)
        if self.runner is not None:
            self.runner.use_running_loop()

    def written(self, batch: Sequence[Turn]) -> None:
        """The recorder stored ``batch``: extract it, or (no extractor) it is settled."""
        if self.runner is not None:
            self.runner.notify()
        else:
            self.inflight.finish_turns(batch)

    # read-your-writes
    def wait_for(self, entity_id: str, shown: Conversation | None = None) -> None:
        """Wait (at most ``read_your_writes`` s) until the entity's own turns are settled,
        those of the conversation ``shown`` (persona, session) apart."""
        if self.read_your_writes > 0 and self.inflight.busy(entity_id, shown):
            self.inflight.wait(entity_id, self.read_your_writes, shown)

    async def await_for(self, entity_id: str, shown: Conversation | None = None) -> None:
        """:meth:`wait_for` without blocking the event loop."""
        if self.read_your_writes > 0 and self.inflight.busy(entity_id, shown):
            await asyncio.to_thread(
                self.inflight.wait, entity_id, self.read_your_writes, shown)

    # flush
    def flush(self, timeout: float | None = None) -> bool:
        """Wait until everything recorded so far is stored and extracted (see Memori.flush)."""
        deadline = None if timeout is None else time.monotonic() + timeout
        parked = self._parked_reported
        if not self.recorder.flush(timeout):
            return False
        if self.runner is None:
            return True
        ok = self.runner.drain(_remaining(deadline))
        self._raise_if_parked(parked)
        return ok

    async def aflush(self, timeout: float | None = None) -> bool:
        if self.runner is None:
            return await asyncio.to_thread(self.flush, timeout)
        self.runner.use_running_loop()
        deadline = None if timeout is None else time.monotonic() + timeout
        parked = self._parked_reported
        if not await asyncio.to_thread(self.recorder.flush, timeout):
            return False
        ok = await self.runner.adrain(_remaining(deadline))
        self._raise_if_parked(parked)
        return ok

    def _raise_if_parked(self, before: int) -> None:
        """Raise for turns parked since ``before`` (the count the last flush reported):
        a turn parked before this flush began is reported too, once."""
        stats = self.runner.stats if self.runner is not None else AugmentationStats()
        self._parked_reported = max(self._parked_reported, stats.parked)
        if stats.parked > before:
            count = stats.parked - before
            raise FlushError(
                f"{count} turn(s) stored but their extraction failed and was parked "
                f"({stats.last_error}); 'memori retry' or Memori.retry() queues them again",
                turns=count, cause=stats.last_error)

    def forget(self, entity_id: str, process_id: str | None = None,
               session_id: str | None = None) -> None:
        """The entity (or its persona ``process_id`` and/or session ``session_id``) was
        erased from the store: erase it from the journal and the in-flight set too
        (called after the recorder was flushed)."""
        journal = self.recorder.journal
        if journal is not None:
            journal.forget(entity_id, process_id, session_id)
        self.inflight.finish(entity_id, list(self.inflight.ids(entity_id, process_id,
                                                                session_id)))

    # recovery
    def retry(self) -> int:
        """Queue parked turns for extraction again and record rejected turns again."""
        count = 0
        journal = self.recorder.journal
        if journal is not None:
            again = journals.take_rejected(journal.directory)
            if again:
                self.recorder.submit(again)
                count += len(again)
        while True:
            parked: list[Turn] = self.store.outbox_parked(RETRY_BATCH)
            if not parked:
                break
            by_entity: dict[str, list[str]] = {}
            for t in parked:
                by_entity.setdefault(t.entity_id, []).append(t.id)
            for entity_id, ids in by_entity.items():
                self.store.outbox_mark(entity_id, ids, ExtractState.PENDING, attempts=0)
            count += len(parked)
            if len(parked) < RETRY_BATCH:
                break
        if self.runner is not None:
            self.runner.notify()
        return count

    # state
    def metrics(self) -> Metrics:
        rec = self.recorder.stats
        aug = self.runner.stats if self.runner is not None else AugmentationStats()
        return Metrics(
            queued=self.recorder.pending(), written=rec.written,
            write_failures=rec.write_failures, dropped=rec.dropped,
            processed=aug.processed, failed=aug.failed, parked=aug.parked,
            memories=aug.memories, lag=self._lag(), rejected=rec.rejected,
            last_error=self.recorder.last_error or aug.last_error,
        )

    def _lag(self) -> float:
        """Seconds the oldest waiting turn has waited; NaN while the store cannot say."""
        if self.runner is None:
            return 0.0
        try:
            return self.runner.lag()
        except Exception:  # metrics must not fail while the store is down
            return float("nan")

    # lifecycle
    def close(self, timeout: float | None = 10.0) -> None:
        """Flush (bounded), then stop; what is left stays journaled or pending for later."""
        try:
            ok = self.flush(timeout)
        except FlushOnLoopError:  # sync close inside async code: extraction resumes later
            ok = False
        except FlushError as e:
            log.error("memori: %s", describe_error(e))
            ok = True  # nothing more will come of waiting
        self.recorder.close(0 if not ok else timeout)
        if self.runner is not None:
            self.runner.close()
        self.inflight.clear()
        if not ok:
            log.error("memori: closed before the pipeline drained (%d turn(s) still "
                      "unwritten stay in the journal; unextracted turns resume on the "
                      "next start)", self.recorder.pending())

    async def aclose(self, timeout: float | None = 10.0) -> None:
        """Stop a task worker on this loop cleanly (the rest closes with :meth:`close`)."""
        if self.runner is not None:
            try:
                await self.aflush(timeout)
            except FlushError as e:
                log.error("memori: %s", describe_error(e))
            await self.runner.aclose(timeout)


def _remaining(deadline: float | None) -> float | None:
    return None if deadline is None else max(0.0, deadline - time.monotonic())
