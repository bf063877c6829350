"""What a SQLite store can be opened on: a URL, a SQLAlchemy Engine or a DB-API connection."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from memori.backends.sql.forks import fresh_pool_in_children
from memori.backends.sqlite import connection as conns
from memori.core.errors import ConfigurationError
from memori.core.redact import redact_url


@dataclass(frozen=True)
class OpenedTarget:
    """The engine to use, how to name the database in messages, and who owns what."""

    engine: Engine
    url_hint: str
    owns_engine: bool
    file_backed: bool
    load_vec: bool


def resolve_target(target: Any, mode: str, *, vectors: bool) -> OpenedTarget:
    """An engine for ``target``; a caller's engine or connection is never closed by memori."""
    driver, load_vec = conns.choose_driver(mode, vectors=vectors)
    if isinstance(target, str):
        engine = conns.engine_from_url(target, driver)
        file_backed = not conns.is_memory_url(engine.url)
        if file_backed:  # (an in-memory database's one connection is its data: kept)
            check_directory(engine.url.database, engine.url.query)
            fresh_pool_in_children(engine)
        return OpenedTarget(engine, redact_url(target), True, file_backed, load_vec)
    if isinstance(target, Engine):
        if target.dialect.name != "sqlite":
            raise ConfigurationError(f"not a SQLite engine: {target.dialect.name}")
        hint = redact_url(target.url.render_as_string(hide_password=True))
        return OpenedTarget(target, hint, False, not conns.is_memory_url(target.url), load_vec)
    if hasattr(target, "execute") and hasattr(target, "cursor"):
        hint = connection_hint(target)
        return OpenedTarget(conns.engine_from_connection(target), hint, False,
                            hint != "sqlite://", load_vec)
    raise ConfigurationError(
        f"cannot open a SQLite store on a {type(target).__module__}.{type(target).__qualname__}"
    )


def check_directory(database: str | None, query: Any) -> None:
    """Refuse, by name, a database file whose directory does not exist: SQLite would
    only say "unable to open database file", on the first write, and the write path
    would hold every turn waiting for a store that can never open."""
    if not database or database.startswith("file:") or "uri" in query:
        return  # a SQLite URI filename: SQLite reads it
    directory = Path(database).parent
    if not directory.is_dir():
        raise ConfigurationError(
            f"cannot open the SQLite file {database!r}: its directory {str(directory)!r} "
            f"{'is not a directory' if directory.exists() else 'does not exist'} "
            "(create it, or give a path in a directory that exists)")


def connection_hint(dbapi_conn: Any) -> str:
    """``sqlite:///<file>`` of a DB-API connection's main database (``sqlite://`` in memory)."""
    with contextlib.suppress(Exception):
        for _, name, path in dbapi_conn.execute("PRAGMA database_list").fetchall():
            if name == "main":
                return f"sqlite:///{path}" if path else "sqlite://"
    return "sqlite://"


def busy_timeout_ms(seconds: Any) -> int:
    """The ``busy_timeout`` option (seconds, default 30) in milliseconds."""
    if seconds is None:
        return conns.DEFAULT_BUSY_TIMEOUT_MS
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        raise ConfigurationError("busy_timeout must be a non-negative number of seconds")
    return int(seconds * 1000)
