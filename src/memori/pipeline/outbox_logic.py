"""The outbox workers' decisions, shared by the thread worker and the task worker (no I/O).

Both workers fetch pending turns, ask :class:`OutboxPolicy` which of them to run
now and how to batch them, stamp candidate memories with :func:`stamp_ids`, and
on a failure apply the marks :meth:`OutboxPolicy.failed` decides (retry with
backoff, or park with the reason). Only the I/O differs between the two.
"""

from __future__ import annotations

import hashlib
import logging
import sys
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field, replace

from memori.core import ExtractState, Memory, Turn
from memori.observability.logs import describe_error

log = logging.getLogger(__name__)

MAX_REASON_CHARS = 200

MAX_EXTRACT_CHARS = 20_000
"""Text of one turn an extractor reads (the start of it); ``Memori(max_extract_chars=)``."""
MAX_MEMORIES_PER_TURN = 20
"""Candidates kept per turn, in the extractor's order; ``Memori(max_memories_per_turn=)``."""
MAX_FAILED_PASS_DELAY = 5.0
"""Longest pause before a worker tries again after a whole pass failed (the store)."""


@dataclass
class AugmentationStats:
    """Counters: turns processed, failed batches, parked turns, memories stored or changed."""

    processed: int = 0
    failed: int = 0
    parked: int = 0
    memories: int = 0
    last_error: str | None = None
    """The cause of the latest failure (error class and message; never message text)."""

    def failure(self, turns: Sequence[Turn], error: BaseException) -> None:
        """Count and log a failed batch (the cause only, never the text)."""
        self.failed += 1
        self.last_error = failure_reason(error)
        log.warning("memori: extraction of %d turn(s) failed (%s)", len(turns),
                    describe_error(error))


@dataclass(frozen=True)
class Mark:
    """One ``outbox_mark`` call to make: these turns of one entity go to ``state``."""

    entity_id: str
    turn_ids: tuple[str, ...]
    state: ExtractState
    attempts: int | None = None
    error: str | None = None


@dataclass(frozen=True)
class EntityJob:
    """The batches of one entity to run now, in order (never two jobs of one entity at once)."""

    entity_id: str
    batches: tuple[tuple[Turn, ...], ...]

    @property
    def turn_count(self) -> int:
        return sum(len(b) for b in self.batches)


@dataclass(frozen=True)
class Plan:
    """What to run now, and whether turns remain that wait (for a retry or a busy entity)."""

    jobs: tuple[EntityJob, ...]
    waiting: bool


def derived_id(turn_ids: Sequence[str], index: int, content: str) -> str:
    """A stable memory id for the ``index``-th candidate extracted from these turns."""
    h = hashlib.blake2b(digest_size=16)
    for part in (*turn_ids, str(index), content):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


def stamp_ids(candidates: Sequence[Memory], turns: Sequence[Turn]) -> list[Memory]:
    """Candidates with ids derived from their source turns, so a re-run is a no-op."""
    fallback = [t.id for t in turns]
    return [
        replace(m, id=derived_id(m.source_turn_ids or fallback, i, m.content))
        for i, m in enumerate(candidates)
    ]


def clip_turns(turns: Sequence[Turn], max_chars: int) -> list[Turn]:
    """The turns as the extractor sees them: each cut to its first ``max_chars`` characters."""
    return [t if len(t.content) <= max_chars else replace(t, content=t.content[:max_chars])
            for t in turns]


def cap_candidates(
    candidates: Sequence[Memory], turns: Sequence[Turn], per_turn: int
) -> list[Memory]:
    """At most ``per_turn`` candidates for each source turn (a batch's share without sources)."""
    limit = per_turn * max(len(turns), 1)
    counts: dict[tuple[str, ...], int] = {}
    kept: list[Memory] = []
    for cand in candidates:
        key = tuple(cand.source_turn_ids)
        allowed = per_turn * len(key) if key else limit
        if counts.get(key, 0) < allowed and len(kept) < limit:
            counts[key] = counts.get(key, 0) + 1
            kept.append(cand)
    return kept


def is_shutdown_error(error: BaseException) -> bool:
    """Errors that only say the interpreter is exiting: the turns stay pending, no attempt
    is counted (the next process extracts them)."""
    return sys.is_finalizing() or (
        isinstance(error, RuntimeError) and "shutdown" in str(error)
    )


def failure_reason(error: BaseException) -> str:
    """What a parked turn keeps in ``extract_error``: the error type and a short message."""
    return f"{type(error).__name__}: {str(error)[:MAX_REASON_CHARS]}"


@dataclass
class OutboxPolicy:
    """Batching by entity, retry bookkeeping with exponential backoff, and parking.

    ``retry_at`` maps a turn id to the monotonic time before which it is not
    retried; it lives in memory only (attempt counts live in the store), so a
    restarted process retries at once and still parks after ``max_attempts``.
    """

    batch_size: int = 32
    max_attempts: int = 4
    base_backoff: float = 0.05
    max_extract_chars: int = MAX_EXTRACT_CHARS
    max_memories_per_turn: int = MAX_MEMORIES_PER_TURN
    retry_at: dict[str, float] = field(default_factory=dict)

    def extraction_input(self, turns: Sequence[Turn]) -> list[Turn]:
        """What the extractor reads of a batch (bounded text per turn)."""
        return clip_turns(turns, self.max_extract_chars)

    def candidates(self, found: Sequence[Memory], turns: Sequence[Turn]) -> list[Memory]:
        """The extractor's candidates, capped per turn, with ids derived from their turns."""
        return stamp_ids(cap_candidates(found, turns, self.max_memories_per_turn), turns)

    def fetch_limit(self, busy_turns: int = 0) -> int:
        """How many pending turns to read so that ``batch_size`` fresh ones can show up
        behind those waiting for a retry or already in flight."""
        return self.batch_size + len(self.retry_at) + busy_turns

    def plan(
        self, pending: Sequence[Turn], busy_entities: Collection[str] = (),
        clock: float | None = None,
    ) -> Plan:
        """Jobs to run now from ``pending`` (oldest first, across entities).

        An entity whose oldest pending turn waits for a retry, or which has a
        job in flight, is skipped whole: its turns are extracted in order, so an
        older fact never supersedes a newer one. A turn that failed before runs
        in a batch of its own, so one poison turn cannot park its neighbours.
        """
        clock = time.monotonic() if clock is None else clock
        self._forget_gone(pending, clock)
        runs: dict[str, list[list[Turn]]] = {}
        held: set[str] = set(busy_entities)
        taken = waiting = 0
        for turn in pending:
            entity = turn.entity_id
            if entity in held or self.retry_at.get(turn.id, 0.0) > clock:
                held.add(entity)
                dropped = runs.pop(entity, [])
                taken -= sum(len(b) for b in dropped)
                waiting += 1 + sum(len(b) for b in dropped)
                continue
            if taken >= self.batch_size:
                waiting += 1
                continue
            batches = runs.setdefault(entity, [])
            if turn.extract_attempts > 0 or not batches or batches[-1][-1].extract_attempts > 0:
                batches.append([turn])
            else:
                batches[-1].append(turn)
            taken += 1
        jobs = tuple(
            EntityJob(entity, tuple(tuple(b) for b in batches))
            for entity, batches in runs.items()
        )
        return Plan(jobs, waiting > 0)

    def _forget_gone(self, pending: Sequence[Turn], clock: float) -> None:
        """Drop due retry times of turns no longer pending (forgotten, or done elsewhere)."""
        ids = {t.id for t in pending}
        for turn_id in [k for k, at in self.retry_at.items() if at <= clock and k not in ids]:
            del self.retry_at[turn_id]

    def succeeded(self, turns: Sequence[Turn]) -> Mark:
        """The batch is extracted and reconciled: forget its retry times, mark it done."""
        for t in turns:
            self.retry_at.pop(t.id, None)
        return Mark(turns[0].entity_id, tuple(t.id for t in turns), ExtractState.DONE)

    def failed(
        self, turns: Sequence[Turn], error: BaseException, clock: float | None = None
    ) -> list[Mark]:
        """Marks for a failed batch: each turn back to pending with a later retry time,
        or parked with the reason once it has failed ``max_attempts`` times. None when the
        interpreter is exiting: the turns simply stay pending."""
        if is_shutdown_error(error):
            return []
        clock = time.monotonic() if clock is None else clock
        reason = failure_reason(error)
        marks: list[Mark] = []
        for turn in turns:
            attempts = turn.extract_attempts + 1
            if attempts >= self.max_attempts:
                self.retry_at.pop(turn.id, None)
                state = ExtractState.PARKED
            else:
                self.retry_at[turn.id] = clock + self.base_backoff * 2 ** attempts
                state = ExtractState.PENDING
            marks.append(Mark(turn.entity_id, (turn.id,), state, attempts, reason))
        return marks

    def failed_pass_delay(self, failures: int) -> float:
        """Seconds before the next pass after ``failures`` passes in a row failed (the
        outbox could not be read or marked): doubling, capped; the worker comes back on its
        own, not only when a new turn wakes it."""
        return min(self.base_backoff * 2.0 ** failures, MAX_FAILED_PASS_DELAY)

    def next_retry_delay(self, clock: float | None = None) -> float | None:
        """Seconds until the next retry falls due (None when none lies in the future: turns
        already due are either planned or held behind a job whose end wakes the worker)."""
        clock = time.monotonic() if clock is None else clock
        future = [at for at in self.retry_at.values() if at > clock]
        return min(future) - clock if future else None


def parked_count(marks: Sequence[Mark]) -> int:
    return sum(len(m.turn_ids) for m in marks if m.state is ExtractState.PARKED)
