"""The background sweep of expired memories, at a bounded rate.

Once a ``Memori`` has a retention policy, or has written or patched an
``expires_at``, its activity (a remembered memory, a registered call) asks for a
sweep: at most one every ``every`` seconds, run in a daemon thread, never in the
caller's. A sweep removes the expired memories of every entity (see
:mod:`memori.core.expiry`); several processes sweeping the same store is harmless.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from memori.core import sweep_expired

log = logging.getLogger(__name__)

SWEEP_EVERY = 600.0
"""Seconds between two background sweeps of one ``Memori`` (ten minutes)."""


class Sweeper:
    """Runs ``sweep_expired`` on ``store`` in the background, at most once per ``every``."""

    def __init__(self, store: Any, every: float | None = SWEEP_EVERY, *,
                 armed: bool = False) -> None:
        self.store = store
        self.every = every
        self.armed = armed
        self.swept = 0
        """Memories removed by background sweeps so far."""
        self._last: float | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._closed = False

    def arm(self) -> None:
        """Expiry is in use: background sweeps may run from now on."""
        self.armed = True

    def poke(self) -> None:
        """Start a sweep in the background if one is due (cheap when none is)."""
        if not self.armed or self.every is None or self._closed:
            return
        clock = time.monotonic()
        if self._last is not None and clock - self._last < self.every:
            return
        with self._lock:
            if self._closed or (self._thread is not None and self._thread.is_alive()):
                return
            if self._last is not None and clock - self._last < self.every:
                return
            self._last = clock
            self._thread = threading.Thread(target=self._run, name="memori-sweep", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        try:
            self.swept += sweep_expired(self.store, time.time())
        except Exception as e:  # a background sweep fails quietly: the next one retries
            log.warning("memori: sweeping expired memories failed: %s", type(e).__name__)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for a running sweep to end."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def close(self, timeout: float | None = 10.0) -> None:
        """No more sweeps; waits for a running one (the store closes next)."""
        with self._lock:
            self._closed = True
        self.wait(timeout)
