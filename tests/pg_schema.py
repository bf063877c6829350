"""A throwaway PostgreSQL schema at a given SQL revision, for the migration tests."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from memori.backends.sql import migrate


@contextmanager
def schema_at(pg_url: str, revision: str) -> Iterator[tuple[Engine, str]]:
    """A new schema (pgvector available) migrated to ``revision``: the admin engine and
    the schema's name; dropped with everything in it afterwards."""
    from memori.backends.postgres.layout import quote_ident

    schema = f"memori_t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_url)
    try:
        with admin.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
            conn.execute(text(f"CREATE SCHEMA {quote_ident(schema)}"))
            migrate.upgrade(conn, revision, schema)
        yield admin, schema
    finally:
        with admin.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE"))
        admin.dispose()
