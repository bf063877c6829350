"""The steps a PostgreSQL plan yields (see ``memori.core.plan_store``).

A plan yields a step (a statement to execute, a COPY, an EXPLAIN) and receives
its result: SQLAlchemy ``CursorResult`` objects, buffered on the async path.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.sql import Executable


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

