"""Where a streamed reply goes: fed item by item, recorded exactly once when the stream ends.

SDK-neutral (no client import), so every client's stream wrapper shares it: the reply
is recorded when the stream is exhausted, closed, fails or is dropped unread, and is
marked partial unless the model said it was done.
"""

from __future__ import annotations

import threading
from typing import Any

from memori.llm.engine import CallPlan, MemoryEngine, StreamReply


class ReplySink:
    """Feeds stream items to an accumulator and records the reply exactly once."""

    def __init__(self, engine: MemoryEngine, plan: CallPlan, reply: StreamReply) -> None:
        self._engine = engine
        self._plan = plan
        self._reply = reply
        self._lock = threading.Lock()
        self._ended = False

    def feed(self, item: Any) -> None:
        try:
            self._reply.feed(item)
        except Exception:  # an odd item must not break the caller's stream
            self._engine.counters.add("record_failures")

    def end(self, error: BaseException | None = None) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True

        def record() -> None:
            extra: dict[str, Any] = {}
            if not self._reply.finished:
                extra["partial"] = True
            if error is not None:
                extra["error"] = type(error).__name__
            self._engine.commit_reply(self._plan, self._reply.draft(), **extra)

        self._engine.guarded("recording a streamed reply", record)
