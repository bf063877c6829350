"""Read-your-writes: per entity, the turns this process recorded that are not yet done.

A turn is in flight from the moment it is recorded until the store holds it and
its extraction has ended (done or parked; or, with no extractor, once it is
written). The next call of the same entity waits, at most a small bound, until
that entity has nothing in flight, so it sees its own last turn and the memories
taken from it with no ``flush()`` and no sleep. Other entities never wait for it,
and a call never waits for turns of its own conversation (persona and session):
the LLM path shows those as session history already, so back-to-back calls of one
conversation (a chat, an agent's tool loop) do not wait. Nor does any call wait while
the store refuses the recorder's writes or the extraction's reads (an outage): the
turns in flight cannot settle within the bound, so waiting would only add the bound to
every call; it waits again once a write or an extraction pass has gone through.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from memori.core import Turn

READ_YOUR_WRITES_SECONDS = 2.0
"""Default bound on the wait (``Memori(read_your_writes=...)``; 0 turns it off)."""


Conversation = tuple[str | None, str]
"""A turn's (persona, session): the history the LLM path already shows for it."""


class InFlight:
    """Turn ids in flight, by entity (with each turn's conversation); thread-safe."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ids: dict[str, dict[str, Conversation]] = {}
        self.waits = 0
        """How many reads found their entity's turns in flight and waited."""
        self._erase = threading.Lock()
        self._erased: dict[str, float] = {}
        self._failing: set[str] = set()

    # forget vs. extraction in flight: a batch read before a forget never writes after it
    @contextmanager
    def applying(self, entity_id: str, read_at: float) -> Iterator[bool]:
        """Hold while a batch's memories are written; yields False (write nothing) when the
        entity was forgotten after the batch was read (``read_at``: ``time.monotonic()``)."""
        with self._erase:
            yield self._erased.get(entity_id, float("-inf")) < read_at

    @contextmanager
    def erasing(self, entity_id: str) -> Iterator[None]:
        """Hold while the entity is erased from the store."""
        with self._erase:
            yield
            self._erased[entity_id] = time.monotonic()

    def add(self, turns: Sequence[Turn]) -> None:
        with self._cond:
            for t in turns:
                self._ids.setdefault(t.entity_id, {})[t.id] = (t.process_id, t.session_id)

    def finish(self, entity_id: str, turn_ids: Iterable[str]) -> None:
        with self._cond:
            ids = self._ids.get(entity_id)
            if ids is None:
                return
            for turn_id in turn_ids:
                ids.pop(turn_id, None)
            if not ids:
                del self._ids[entity_id]
            self._cond.notify_all()

    def finish_turns(self, turns: Iterable[Turn]) -> None:
        by_entity: dict[str, list[str]] = {}
        for t in turns:
            by_entity.setdefault(t.entity_id, []).append(t.id)
        for entity_id, ids in by_entity.items():
            self.finish(entity_id, ids)

    def ids(self, entity_id: str, process_id: str | None = None,
            session_id: str | None = None) -> set[str]:
        """The entity's turn ids in flight; with ``process_id`` and/or ``session_id``,
        only those of that persona and/or session (a forgotten grain's)."""
        with self._cond:
            return {turn_id for turn_id, (persona, session) in self._ids.get(entity_id, {}).items()
                    if (process_id is None or persona == process_id)
                    and (session_id is None or session == session_id)}

    def failing(self, stage: str, failing: bool) -> None:
        """Whether ``stage`` (the recorder's ``"write"``, the extraction's ``"extract"``)
        finds the store unreachable; while any stage does, nothing waits (and waits end).
        Each stage is told by one thread only, so an unchanged state returns at once."""
        if (stage in self._failing) == failing:
            return
        with self._cond:
            if failing:
                self._failing.add(stage)
            else:
                self._failing.discard(stage)
            self._cond.notify_all()

    @property
    def stalled(self) -> bool:
        """Whether some stage finds the store unreachable (see :meth:`failing`)."""
        return bool(self._failing)

    def busy(self, entity_id: str, shown: Conversation | None = None) -> bool:
        """Whether the entity has turns in flight outside the conversation ``shown`` (whose
        turns the caller shows anyway) that can settle (see :meth:`failing`); never
        blocks."""
        ids = self._ids.get(entity_id)
        if not ids or self._failing:
            return False
        if shown is None:
            return True
        with self._cond:
            return any(c != shown for c in self._ids.get(entity_id, {}).values())

    def wait(self, entity_id: str, timeout: float, shown: Conversation | None = None) -> bool:
        """Wait until ``entity_id`` has nothing in flight (outside ``shown``), at most
        ``timeout``; True if so."""
        if not self.busy(entity_id, shown):
            return True
        deadline = time.monotonic() + timeout
        with self._cond:
            self.waits += 1
            while self.busy(entity_id, shown):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return True

    def clear(self) -> None:
        with self._cond:
            self._ids.clear()
            self._cond.notify_all()


@contextmanager
def applying(inflight: InFlight | None, entity_id: str, read_at: float) -> Iterator[bool]:
    """:meth:`InFlight.applying`, or always True without a tracker."""
    if inflight is None:
        yield True
        return
    with inflight.applying(entity_id, read_at) as wanted:
        yield wanted


def report_failing(inflight: InFlight | None, stage: str, failing: bool) -> None:
    """:meth:`InFlight.failing`, or nothing without a tracker."""
    if inflight is not None:
        inflight.failing(stage, failing)
