"""Revision 0003's PostgreSQL DDL (frozen): quoting, the pgvector check, the RLS policy.

Copied from the backend as released with 0003 (``memori.backends.postgres``
``layout``, ``extension`` and ``rls``); the store's copies may move on, these may not.
"""

from __future__ import annotations

from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.engine import Connection

from memori.core.errors import ConfigurationError

POLICY = "memori_entity_isolation"
ENTITY_SETTING = "memori.entity_id"
ALL_ENTITIES_SETTING = "memori.all_entities"
POLICY_TABLES = ("memori_turns", "memori_memories", "memori_outbox")
"""The tables given the entity isolation policy."""

_RULE = (
    f"(entity_id = current_setting('{ENTITY_SETTING}', true) "
    f"OR current_setting('{ALL_ENTITIES_SETTING}', true) = 'on')"
)

MIN_VECTOR_VERSION = (0, 5, 0)
"""HNSW indexes arrived in pgvector 0.5.0."""


def quote_ident(name: str) -> str:
    """A PostgreSQL identifier in double quotes (for DDL that cannot take parameters)."""
    return '"' + name.replace('"', '""') + '"'


def qualified(schema: str | None, name: str) -> str:
    """``"schema"."name"`` or ``"name"``."""
    return quote_ident(name) if schema is None else f"{quote_ident(schema)}.{quote_ident(name)}"


def create_policy_sql(schema: str | None, table: str) -> str:
    """``CREATE POLICY`` restricting reads and writes of ``table`` to the set entity."""
    return (
        f"CREATE POLICY {quote_ident(POLICY)} ON {qualified(schema, table)} "
        f"USING {_RULE} WITH CHECK {_RULE}"
    )


def drop_policy_sql(schema: str | None, table: str) -> str:
    return f"DROP POLICY IF EXISTS {quote_ident(POLICY)} ON {qualified(schema, table)}"


def _installed_version(conn: Connection) -> str | None:
    row = conn.execute(text("SELECT extversion FROM pg_extension WHERE extname = 'vector'")).first()
    return None if row is None else str(row[0])


def _too_old(version: str) -> bool:
    parts = tuple(int(p) for p in version.split(".")[:3] if p.isdigit())
    return parts < MIN_VECTOR_VERSION


def _not_permitted(conn: Connection, error: BaseException) -> ConfigurationError:
    database = conn.execute(text("SELECT current_database(), current_user")).first()
    db, role = (database[0], database[1]) if database is not None else ("?", "?")
    return ConfigurationError(
        f"the pgvector extension is not installed in database {db!r} and role {role!r} may not "
        f"create it ({type(getattr(error, 'orig', error)).__name__}); ask an administrator to run "
        f"CREATE EXTENSION vector; in that database, then retry"
    )


def ensure_vector_extension(conn: Connection) -> str:
    """Create pgvector if missing (in a savepoint) and return its version.

    Raises ``ConfigurationError`` when the role may not create it, when the server
    has no pgvector at all, or when the installed version predates HNSW.
    """
    version = _installed_version(conn)
    if version is None:
        try:
            with conn.begin_nested():
                conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        except sa_exc.DBAPIError as e:
            sqlstate = str(getattr(e.orig, "sqlstate", "") or "")
            if sqlstate == "42501":  # insufficient_privilege
                raise _not_permitted(conn, e) from e
            if sqlstate in ("58P01", "0A000", "22023"):  # no control file / not available
                raise ConfigurationError(
                    "the PostgreSQL server has no pgvector extension: install pgvector "
                    "(https://github.com/pgvector/pgvector) on the server, then retry"
                ) from e
            raise
        version = _installed_version(conn) or "0"
    if _too_old(version):
        raise ConfigurationError(
            f"pgvector {version} is too old (HNSW needs 0.5.0 or later): "
            "run ALTER EXTENSION vector UPDATE;"
        )
    if conn.execute(text("SELECT to_regtype('vector')")).scalar() is None:
        raise ConfigurationError(
            "pgvector is installed in a schema that is not on this role's search_path: "
            "add that schema to search_path"
        )
    return version
