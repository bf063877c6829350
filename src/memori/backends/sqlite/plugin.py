"""Registers the SQLite backend (imports no driver)."""

from __future__ import annotations

from typing import Any

from memori.core import BackendSpec, hookimpl


def _is_sqlite_engine(obj: Any) -> bool:
    dialect = getattr(obj, "dialect", None)
    if dialect is None and hasattr(obj, "execute"):
        return True  # a DB-API sqlite3 connection
    return getattr(dialect, "name", None) == "sqlite"


SPEC = BackendSpec(
    name="sqlite",
    loader="memori.backends.sqlite.store:open_store",
    schemes=("sqlite", "sqlite+pysqlite"),
    object_types=(
        "sqlalchemy.engine.base.Engine",
        "sqlite3.Connection",
        "pysqlite3.dbapi2.Connection",
    ),
    accepts=_is_sqlite_engine,
    extra=None,
    requires=("sqlalchemy", "alembic"),
    description="Embedded SQLite file (default): FTS5 text search, sqlite-vec or exact vectors.",
)


@hookimpl
def memori_register_backends(register: Any) -> None:
    register(SPEC)
