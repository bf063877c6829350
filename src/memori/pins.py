"""Pinning and expiry on ``Memori``: pin/unpin a memory, when one expires, the sweep.

A pinned memory is injected first by every registered call of a scope that sees it,
within ``pinned_share`` of the token budget. A memory expires at its ``expires_at``
(epoch seconds): from then on it is never recalled nor injected, and a sweep
removes it (``sweep()``, ``memori sweep``, or the background sweep).
"""

from __future__ import annotations

import asyncio
import math
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from memori.attribution import CURRENT
from memori.core import Memory, sweep_expired

PINNED_SHARE = 0.25
"""By default, pinned memories take at most this share of the context block's budget."""


class _Unchanged:
    def __repr__(self) -> str:
        return "UNCHANGED"


UNCHANGED: Any = _Unchanged()
"""``update_memory(expires_at=...)`` left as it is (None clears the expiry)."""


def check_share(value: Any) -> float:
    if type(value) not in (int, float) or not 0 <= value <= 1:
        raise ValueError(f"pinned_share must be a number from 0 to 1, got {value!r}")
    return float(value)


def expiry(expires_at: Any, ttl: Any, *, at: float | None = None) -> float | None:
    """The ``expires_at`` of ``remember(expires_at=..., ttl=...)`` (at most one of them):
    a ``datetime`` (naive: local time) or epoch seconds, or ``ttl`` seconds from now."""
    if expires_at is not None and ttl is not None:
        raise ValueError("give expires_at or ttl, not both")
    if ttl is not None:
        if type(ttl) not in (int, float) or not math.isfinite(ttl) or ttl <= 0:
            raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
        return (time.time() if at is None else at) + float(ttl)
    return moment(expires_at)


def moment(value: Any) -> float | None:
    """A ``datetime`` or epoch seconds as epoch seconds (None stays None)."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp()
    if type(value) in (int, float) and math.isfinite(value):
        return float(value)
    raise ValueError(f"expires_at must be a datetime or epoch seconds, got {value!r}")


class Pinning:
    """``pin``, ``unpin``, ``sweep`` and their async twins (a mixin of ``Memori``)."""

    if TYPE_CHECKING:
        store: Any

    def pin(self, memory_id: str, *, entity_id: str | None = None,
            process_id: Any = CURRENT) -> Memory:
        """Pin a memory the scope sees: every call of a scope that sees it injects it
        first. ``NotFoundError`` when the scope does not see it."""
        updated: Memory = cast(Any, self).update_memory(
            memory_id, pinned=True, entity_id=entity_id, process_id=process_id)
        return updated

    def unpin(self, memory_id: str, *, entity_id: str | None = None,
              process_id: Any = CURRENT) -> Memory:
        """Unpin a memory the scope sees (it is recalled by relevance again)."""
        updated: Memory = cast(Any, self).update_memory(
            memory_id, pinned=False, entity_id=entity_id, process_id=process_id)
        return updated

    def sweep(self) -> int:
        """Delete the expired memories of every entity now; returns how many went."""
        return sweep_expired(self.store, time.time())

    async def apin(self, memory_id: str, **kwargs: Any) -> Memory:
        return await asyncio.to_thread(self.pin, memory_id, **kwargs)

    async def aunpin(self, memory_id: str, **kwargs: Any) -> Memory:
        return await asyncio.to_thread(self.unpin, memory_id, **kwargs)

    async def asweep(self) -> int:
        return await asyncio.to_thread(self.sweep)
