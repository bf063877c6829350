"""Limits at their boundaries: which to try, what a limited read returns, refusals allowed.

A backend that switches plans on the size of ``limit`` (an index for small
pages, a scan or another query for large ones) must keep every filter on
every plan: recall asks the store for ``max(20, limit)`` hits, so a caller's
``limit=300`` reaches the store as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from memori.conformance.checks import assert_memory_hits, assert_turn_hits
from memori.conformance.worlds import attempt, exact
from memori.core import Hit, MemoryStore, Scope

LARGE_LIMITS = (300, 500)
"""Limits far above anything the worlds hold."""


def limits_for(count: int) -> list[int]:
    """The limits worth trying for a scope holding ``count`` items: 0, 1, 2, ``count``,
    ``count + 1`` and several hundred."""
    return sorted({0, 1, 2, count, count + 1, *LARGE_LIMITS})


def latest(ids: Sequence[str], limit: int) -> list[str]:
    """The last ``limit`` of ``ids`` (what a history read with ``limit`` returns)."""
    return list(ids[max(0, len(ids) - limit):]) if limit else []


def search_at(
    call: Callable[..., list[Hit]], declared: bool, limit: int, *args: Any, **kwargs: Any
) -> list[Hit] | None:
    """Search with ``limit``; None when refused (``limit=0`` with ValueError, or an
    undeclared search in any way)."""
    if limit == 0 and declared:
        try:
            return call(*args, limit=0, **kwargs)
        except ValueError:
            return None
    return attempt(call, declared, *args, limit=limit, **kwargs)


async def asearch_at(
    call: Callable[..., Awaitable[list[Hit]]], declared: bool, limit: int,
    *args: Any, **kwargs: Any,
) -> list[Hit] | None:
    """:func:`search_at` for the async twins."""
    try:
        return await call(*args, limit=limit, **kwargs)
    except ValueError:
        if declared and limit != 0:
            raise
        return None
    except Exception:
        if declared:
            raise
        return None



def check_limited_turns(
    hits: Sequence[Hit], store: MemoryStore, scope: Scope, want: Sequence[str], limit: int,
    kwargs: dict[str, Any], declared: bool, call: str,
) -> None:
    """What a turn search asked for ``limit`` hits owes: only the scope's turns, ranked, at
    most ``limit``; an exact declared search all of them up to ``limit`` (``call`` names
    the search in the message)."""
    assert_turn_hits(hits, scope, set(want), limit=limit)
    if declared and exact(store, kwargs):
        assert len(hits) == min(limit, len(want)), (
            f"{call}({scope}, {kwargs}, {limit=}) returned {len(hits)} "
            f"of the scope's {len(want)} matching turns"
        )


def check_limited_memories(
    hits: Sequence[Hit], store: MemoryStore, scope: Scope, want: set[str], limit: int,
    kwargs: dict[str, Any], declared: bool, history: bool, call: str,
) -> None:
    """:func:`check_limited_turns` for a memory search (``history``: superseded ones too)."""
    assert_memory_hits(hits, scope, want, limit=limit, include_superseded=history)
    if declared and exact(store, kwargs):
        assert len(hits) == min(limit, len(want)), (
            f"{call}({scope}, {kwargs}, include_superseded={history}, {limit=}) returned "
            f"{len(hits)} of {len(want)}"
        )
