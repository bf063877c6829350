"""SQL engines across ``os.fork()``: a child opens connections of its own.

A child process inherits its parent's pooled connections: the same sockets (a
PostgreSQL server's replies then go to whichever process reads first) or the same
SQLite handles, whose locks and caches are the parent's (SQLite's documentation: do
not carry an open connection across a fork). In a forked child each tracked engine
gets a new, empty pool; the parent's pool is kept referenced, never used nor closed
there, so no child ends or disturbs a connection its parent still uses.
"""

from __future__ import annotations

from sqlalchemy.engine import Engine

from memori.core.forks import keep_from_parent, reset_in_children


def fresh_pool_in_children(engine: Engine) -> None:
    """Give ``engine`` a new pool in every process forked from this one from now on
    (for an engine memori made and owns; a caller's engine is the caller's to reset)."""
    reset_in_children(engine, _fresh_pool)


def _fresh_pool(engine: Engine) -> None:
    keep_from_parent(engine.pool)
    engine.dispose(close=False)
