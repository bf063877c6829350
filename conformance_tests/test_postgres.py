"""The conformance suite against PostgreSQL: exact and HNSW vector paths, sync and async,
and with row-level security on under an unprivileged role.

The server is ``MEMORI_TEST_POSTGRES_URL`` if set, else a throwaway PostgreSQL 16
with pgvector from the ``pgserver`` wheel, started once per test session.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

pytest.importorskip("psycopg", reason="the postgres extra is not installed")

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from memori.backends.postgres.layout import quote_ident
from memori.backends.postgres.store import PostgresStore, open_store
from memori.conformance import StoreConformance
from memori.testing.postgres_server import URL_ENV, shared_server


@pytest.fixture(scope="session")
def postgres_url() -> str:
    import os

    if not os.environ.get(URL_ENV):
        pytest.importorskip("pgserver", reason=f"pip install pgserver, or set {URL_ENV}")
    return shared_server().url


def _drop_schema(url: str, schema: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE"))
    finally:
        engine.dispose()


class TestPostgres(StoreConformance):
    """Default store: vectors ranked by an exact scan of the scope's rows (entity btree)."""

    options: dict[str, Any] = {}  # noqa: RUF012

    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls, postgres_url: str) -> Iterator[tuple[str, str]]:
        schema = f"memori_conf_{uuid.uuid4().hex[:12]}"
        yield postgres_url, schema
        _drop_schema(postgres_url, schema)

    @pytest.fixture
    def make_store(self, lifespan: tuple[str, str]) -> Callable[..., PostgresStore]:
        url, schema = lifespan

        def factory(**options: Any) -> PostgresStore:
            return open_store(url, schema=schema, **{**self.options, **options})

        return factory


class TestPostgresHnsw(TestPostgres):
    """HNSW indexes present; every entity above one row is searched through the graph."""

    options: dict[str, Any] = {"vector_index": "hnsw", "hnsw_min_rows": 2}  # noqa: RUF012


class TestPostgresRowLevelSecurity(TestPostgres):
    """RLS enabled and forced, the store connecting as an unprivileged role that owns its tables."""

    options: dict[str, Any] = {"row_level_security": True}  # noqa: RUF012

    @pytest.fixture(scope="class")
    @classmethod
    def lifespan(cls, postgres_url: str) -> Iterator[tuple[str, str]]:
        role = f"memori_app_{uuid.uuid4().hex[:10]}"
        schema = f"memori_conf_{uuid.uuid4().hex[:12]}"
        password = uuid.uuid4().hex
        admin = create_engine(postgres_url)
        try:
            with admin.begin() as conn:
                is_super = conn.execute(text(
                    "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
                )).scalar()
                if not is_super:
                    pytest.skip("the test server's role may not create roles")
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
                conn.execute(text(
                    f"CREATE ROLE {quote_ident(role)} LOGIN PASSWORD '{password}' "
                    "NOSUPERUSER NOBYPASSRLS"
                ))
                conn.execute(text(
                    f"CREATE SCHEMA {quote_ident(schema)} AUTHORIZATION {quote_ident(role)}"
                ))
            url = make_url(postgres_url).set(username=role, password=password)
            yield url.render_as_string(hide_password=False), schema
        finally:
            with admin.begin() as conn:
                conn.execute(text(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE"))
                conn.execute(text(f"DROP ROLE IF EXISTS {quote_ident(role)}"))
            admin.dispose()
