"""SQL engines across ``os.fork()``: a child opens connections of its own.

A child process inherits its parent's pooled connections: the same sockets (a
PostgreSQL server's replies then go to whichever process reads first) or the same
SQLite handles, whose locks and caches are the parent's (SQLite's documentation: do
not carry an open connection across a fork). In a forked child each tracked engine
gets a new, empty pool; the parent's pools are kept referenced, never used nor
closed there, so no child ends or disturbs a connection its parent still uses.
"""

from __future__ import annotations

import os
import weakref
from typing import Any

from sqlalchemy.engine import Engine

_engines: weakref.WeakSet[Engine] = weakref.WeakSet()
_parents_pools: list[Any] = []


def fresh_pool_in_children(engine: Engine) -> None:
    """Give ``engine`` a new pool in every process forked from this one from now on
    (for an engine memori made and owns; a caller's engine is the caller's to reset)."""
    _engines.add(engine)


def _after_fork_in_child() -> None:
    for engine in list(_engines):
        _parents_pools.append(engine.pool)  # kept: collected, it would close them here
        engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)
