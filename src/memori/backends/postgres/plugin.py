"""Registers the PostgreSQL backend (imports no driver)."""

from __future__ import annotations

from typing import Any

from memori.core import BackendSpec, hookimpl


def _is_postgres(obj: Any) -> bool:
    dialect = getattr(obj, "dialect", None)
    if dialect is None:
        return True  # a psycopg connection
    return getattr(dialect, "name", None) == "postgresql"


SPEC = BackendSpec(
    name="postgres",
    loader="memori.backends.postgres.store:open_store",
    schemes=("postgresql", "postgresql+psycopg", "postgres"),
    object_types=(
        "sqlalchemy.engine.base.Engine",
        "sqlalchemy.ext.asyncio.engine.AsyncEngine",
        "psycopg.Connection",
        "psycopg.AsyncConnection",
        "psycopg.connection.Connection",
        "psycopg.connection_async.AsyncConnection",
    ),
    accepts=_is_postgres,
    extra="postgres",
    requires=("psycopg", "greenlet"),
    description="PostgreSQL with pgvector (HNSW) and tsvector/GIN text search.",
)


@hookimpl
def memori_register_backends(register: Any) -> None:
    register(SPEC)
