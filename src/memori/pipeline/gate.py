"""Background work steps aside while a foreground read runs.

Recall for an intercepted call is on the caller's critical path; writing recorded
turns and extracting memories are not. In one process they share the GIL and the
cores, so a write or an extraction batch that starts while a call is being planned
slows that call down. Foreground readers hold the gate (``busy``); the background
threads wait at the gate (``wait_idle``) before each unit of work, at most
``max_wait`` seconds, so steady foreground traffic delays background work but never
stops it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager

MAX_WAIT = 0.05
"""Seconds a background unit of work waits for the foreground at most."""


class ForegroundGate:
    """Counts foreground readers; background threads wait until there are none."""

    def __init__(self, max_wait: float = MAX_WAIT) -> None:
        if max_wait < 0:
            raise ValueError("max_wait must not be negative")
        self.max_wait = max_wait
        self._cond = threading.Condition()
        self._active = 0
        self.waits = 0
        """How many times background work found the foreground busy and waited."""

    @property
    def active(self) -> int:
        """Foreground readers running now."""
        return self._active

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Mark a foreground read for the duration of the block."""
        with self._cond:
            self._active += 1
        try:
            yield
        finally:
            with self._cond:
                self._active -= 1
                if self._active == 0:
                    self._cond.notify_all()

    def wait_idle(self) -> bool:
        """Wait until no foreground read runs, at most ``max_wait``; True if idle."""
        with self._cond:
            if self._active == 0:
                return True
            self.waits += 1
            return self._cond.wait_for(lambda: self._active == 0, timeout=self.max_wait)
