"""Sans-I/O plans: each store operation is a generator of steps, run by a sync or async runner.

A plan yields a step (a statement to execute, a COPY, an EXPLAIN) and receives
its result, so one implementation of every operation serves both the sync and
the native async API. Results are SQLAlchemy ``CursorResult`` objects, buffered
on the async path.
"""

from __future__ import annotations

from collections.abc import Generator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy.sql import Executable

T = TypeVar("T")


@dataclass(frozen=True)
class Exec:
    """Execute ``statement`` (with one parameter mapping, or a list for executemany)."""

    statement: Executable
    params: Mapping[str, Any] | Sequence[Mapping[str, Any]] | None = None


@dataclass(frozen=True)
class Explain:
    """``EXPLAIN (ANALYZE, FORMAT JSON)`` of ``statement``; the result is the plan document."""

    statement: Executable
    params: Mapping[str, Any] | None = None


Plan = Generator[Any, Any, T]
"""A generator yielding steps (``Exec``, ``Explain``, ``bulk.CopyRows``) and returning T."""
