"""Expiry: memories past their ``expires_at``, left out of reads and removed by a sweep.

A store keeps and returns ``expires_at`` like any other field; it does not read the
clock. memori leaves expired memories out of recall and of the LLM path at read time
(:func:`live_hits`), so they are never shown even before a sweep removes them.

``sweep_expired(at)`` removes every memory of every entity whose ``expires_at`` is at
or before ``at`` (superseded ones too) and returns how many went. It is derived here
from ``scan`` and ``delete_memories``, so every store has it for free; a store with a
faster way (one ``DELETE ... WHERE``) implements it itself
(:class:`SupportsSweepExpired`, and :class:`SupportsAsyncSweepExpired` for its async
twin) with exactly the same effect. Standard library only.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterable
from typing import Any, Protocol, runtime_checkable

from memori.core.models import Hit, Memory, Scope


@runtime_checkable
class SupportsSweepExpired(Protocol):
    """A store that removes expired memories itself."""

    def sweep_expired(self, at: float) -> int: ...


@runtime_checkable
class SupportsAsyncSweepExpired(Protocol):
    """A store that removes expired memories itself on the event loop (awaited by
    :func:`asweep_expired`; else the sync sweep runs in a worker thread)."""

    async def asweep_expired(self, at: float) -> int: ...


def check_moment(at: Any) -> float:
    """``at`` as finite epoch seconds (``ValueError`` otherwise)."""
    if type(at) not in (int, float) or not math.isfinite(at):
        raise ValueError(f"at must be finite epoch seconds, got {at!r}")
    return float(at)


def live_hits(hits: Iterable[Hit], at: float) -> list[Hit]:
    """The hits whose item has not expired by ``at`` (turns never expire)."""
    return [h for h in hits if not (isinstance(h.item, Memory) and h.item.expired(at))]


def derive_sweep_expired(store: Any, at: float) -> int:
    """Delete the expired memories of every entity with the store's primitives (an
    admin scan across entities, then deletes by ids under each memory's own persona)."""
    at = check_moment(at)
    return delete_by_keys(store, ((m.entity_id, m.process_id, m.id) for m in store.scan()
                                  if isinstance(m, Memory) and m.expired(at)))


def delete_by_keys(store: Any, keys: Iterable[tuple[str, str | None, str]]) -> int:
    """Delete memories given as ``(entity_id, process_id, id)``, grouped by entity and
    persona (``delete_memories`` under each memory's own persona sees it)."""
    doomed: dict[tuple[str, str | None], list[str]] = {}
    for entity, persona, memory_id in keys:
        doomed.setdefault((entity, persona), []).append(memory_id)
    return sum(int(store.delete_memories(Scope(entity, persona), ids))
               for (entity, persona), ids in doomed.items())


def sweep_expired(store: Any, at: float) -> int:
    """The store's own ``sweep_expired`` when it has one, else the derived one."""
    at = check_moment(at)
    if isinstance(store, SupportsSweepExpired):
        return int(store.sweep_expired(at))
    return derive_sweep_expired(store, at)


async def asweep_expired(store: Any, at: float) -> int:
    """:func:`sweep_expired` for async code: the store's ``asweep_expired`` when it has
    one, else the sync one in a worker thread."""
    at = check_moment(at)
    if isinstance(store, SupportsAsyncSweepExpired):
        return int(await store.asweep_expired(at))
    return await asyncio.to_thread(sweep_expired, store, at)
