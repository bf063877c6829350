"""Read-your-writes: per entity, the turns this process recorded that are not yet done.

A turn is in flight from the moment it is recorded until the store holds it and
its extraction has ended (done or parked; or, with no extractor, once it is
written). The next call of the same entity waits, at most a small bound, until
that entity has nothing in flight, so it sees its own last turn and the memories
taken from it with no ``flush()`` and no sleep. Other entities never wait for it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager

from memori.core import Turn

READ_YOUR_WRITES_SECONDS = 2.0
"""Default bound on the wait (``Memori(read_your_writes=...)``; 0 turns it off)."""


class InFlight:
    """Turn ids in flight, by entity; thread-safe."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._ids: dict[str, set[str]] = {}
        self.waits = 0
        """How many reads found their entity's turns in flight and waited."""
        self._erase = threading.Lock()
        self._erased: dict[str, float] = {}

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
                self._ids.setdefault(t.entity_id, set()).add(t.id)

    def finish(self, entity_id: str, turn_ids: Iterable[str]) -> None:
        with self._cond:
            ids = self._ids.get(entity_id)
            if ids is None:
                return
            ids.difference_update(turn_ids)
            if not ids:
                del self._ids[entity_id]
                self._cond.notify_all()

    def finish_turns(self, turns: Iterable[Turn]) -> None:
        by_entity: dict[str, list[str]] = {}
        for t in turns:
            by_entity.setdefault(t.entity_id, []).append(t.id)
        for entity_id, ids in by_entity.items():
            self.finish(entity_id, ids)

    def ids(self, entity_id: str) -> set[str]:
        with self._cond:
            return set(self._ids.get(entity_id, ()))

    def busy(self, entity_id: str) -> bool:
        """Whether the entity has turns in flight (never blocks)."""
        return entity_id in self._ids

    def wait(self, entity_id: str, timeout: float) -> bool:
        """Wait until ``entity_id`` has nothing in flight, at most ``timeout``; True if so."""
        if entity_id not in self._ids:
            return True
        deadline = time.monotonic() + timeout
        with self._cond:
            if entity_id in self._ids:
                self.waits += 1
            while entity_id in self._ids:
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
