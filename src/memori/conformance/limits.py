"""Limits at their boundaries: which to try, what a limited read returns, refusals allowed.

A backend that switches plans on the size of ``limit`` (an index for small
pages, a scan or another query for large ones) must keep every filter on
every plan: recall asks the store for ``max(20, limit)`` hits, so a caller's
``limit=300`` reaches the store as it is.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from memori.conformance.worlds import attempt
from memori.core import Hit

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

