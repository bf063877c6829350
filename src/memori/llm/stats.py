"""Counters of the LLM path and the fail-open rule: memory failures never fail a model call.

A failure of the memory layer (store down, retriever raising) is logged by type
only, never with message text, and counted here; the model call goes on without
memory. With ``Memori(strict=True)`` the failure is raised instead.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, fields

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LLMStats:
    """A snapshot of what the interceptors did since the registry was created.

    ``write_failures`` and ``write_pending`` come from the write-behind recorder:
    failed write attempts (each retried) and turns still waiting to be stored.
    """

    calls: int = 0
    passthrough: int = 0
    injected: int = 0
    recorded_turns: int = 0
    partial_replies: int = 0
    read_failures: int = 0
    record_failures: int = 0
    write_failures: int = 0
    write_pending: int = 0

    @property
    def failures(self) -> int:
        """Every memory failure the model calls went on without."""
        return self.read_failures + self.record_failures + self.write_failures


class Counters:
    """Thread-safe counters behind :class:`LLMStats`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = {f.name: 0 for f in fields(LLMStats)}

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._values[name] += amount

    def snapshot(self, **extra: int) -> LLMStats:
        with self._lock:
            values = dict(self._values)
        values.update(extra)
        return LLMStats(**values)


def memory_failure(
    counters: Counters, counter: str, what: str, error: BaseException, *, strict: bool
) -> None:
    """Count and log a memory failure (type only, no message text); re-raise when strict."""
    counters.add(counter)
    log.warning("memori: %s failed (%s); the model call goes on without it",
                what, type(error).__name__)
    if strict:
        raise error
