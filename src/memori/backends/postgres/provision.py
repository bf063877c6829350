"""``setup()`` on PostgreSQL: pgvector, the schema, migrations, HNSW indexes, RLS.

Runs in one transaction on a sync connection (the async store hands its own
connection over with ``run_sync``, so no thread is involved). A transaction-level
advisory lock per schema serialises concurrent first starts of several processes.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Connection

from memori.backends.postgres import rls
from memori.backends.postgres.extension import ensure_vector_extension
from memori.backends.postgres.layout import qualified, quote_ident
from memori.backends.postgres.search import hnsw_index_sql, index_name
from memori.backends.sql import migrate as migrations
from memori.backends.sql.tables import MEMORIES, TURNS
from memori.core.errors import ConfigurationError


@dataclass(frozen=True)
class HnswOptions:
    m: int = 16
    ef_construction: int = 64


@dataclass(frozen=True)
class Provisioned:
    """What setup learnt about the database."""

    revision: str
    pgvector: str
    vector_oid: int
    rls_active: bool
    hnsw_indexes: tuple[str, ...]


def _lock(conn: Connection, schema: str | None) -> None:
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                 {"k": f"memori-setup:{schema or ''}"})


def _ensure_schema_exists(conn: Connection, schema: str) -> None:
    found = conn.execute(text("SELECT 1 FROM pg_namespace WHERE nspname = :s"), {"s": schema})
    if found.first() is None:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {quote_ident(schema)}"))


def _rls_state(conn: Connection, schema: str | None) -> dict[str, tuple[bool, bool]]:
    rows = conn.execute(rls.rls_state_statement(), {"schema": schema, "names": list(rls.TABLES)})
    return {str(r[0]): (bool(r[1]), bool(r[2])) for r in rows}


def _enable_rls(conn: Connection, schema: str | None) -> None:
    state = _rls_state(conn, schema)
    for table in rls.TABLES:
        if state.get(table) == (True, True):
            continue
        try:
            with conn.begin_nested():
                for stmt in rls.enable_sql(schema, table):
                    conn.execute(text(stmt))
        except sa_exc.DBAPIError as e:
            raise ConfigurationError(
                f"row_level_security=True: cannot enable row-level security on {table} "
                f"({type(e.orig).__name__}); the tables' owner must run memori setup once "
                "with row_level_security=True"
            ) from e


def _create_hnsw(conn: Connection, schema: str | None, dim: int, options: HnswOptions) -> None:
    for table in (MEMORIES, TURNS):
        conn.execute(text(hnsw_index_sql(
            qualified(schema, table), table, dim, m=options.m,
            ef_construction=options.ef_construction, quote=quote_ident,
        )))


def _hnsw_indexes(conn: Connection, schema: str | None, dim: int | None) -> tuple[str, ...]:
    if dim is None:
        return ()
    names = [index_name(t, dim) for t in (MEMORIES, TURNS)]
    rows = conn.execute(text(
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = coalesce(:schema, current_schema()) AND c.relname = ANY(:names)"
    ), {"schema": schema, "names": names})
    return tuple(sorted(str(r[0]) for r in rows))


def provision(
    conn: Connection, *, schema: str | None, url_hint: str, migrate: bool,
    vector_dim: int | None, hnsw: HnswOptions | None, row_level_security: bool,
) -> Provisioned:
    """Bring the database to what the store needs; idempotent on a shared database."""
    _lock(conn, schema)
    version = ensure_vector_extension(conn)
    if schema is not None:
        _ensure_schema_exists(conn, schema)
    revision = migrations.ensure_schema(conn, url_hint=url_hint, migrate=migrate, schema=schema)
    if row_level_security:
        _enable_rls(conn, schema)
    if hnsw is not None and vector_dim is not None:
        _create_hnsw(conn, schema, vector_dim, hnsw)
    state = _rls_state(conn, schema)
    oid = int(conn.execute(text("SELECT to_regtype('vector')::oid")).scalar_one())
    return Provisioned(
        revision=revision, pgvector=version, vector_oid=oid,
        rls_active=any(on for on, _ in state.values()),
        hnsw_indexes=_hnsw_indexes(conn, schema, vector_dim),
    )
