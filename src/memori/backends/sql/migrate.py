"""Run the shared Alembic tree from code (imports alembic lazily).

A new database is created at head on first use; an older one is upgraded only
when asked (``memori migrate URL`` or ``migrate=True``), otherwise
``SchemaOutdatedError`` names the command to run. A database already at head (every
open after the first) is checked without importing alembic: its version table is
read with one query and compared with :data:`HEAD` (a test keeps it equal to the
tree's head).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import column, inspect, select, table
from sqlalchemy.engine import Connection

from memori.backends.sql.tables import TURNS, VERSION_TABLE
from memori.core.errors import SchemaOutdatedError, SchemaTooNewError

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent.parent / "migrations"
#: The tree's head revision (tests/test_sql_migrations.py checks it against alembic's).
HEAD = "0007"


def _config(connection: Connection, schema: str | None) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.attributes["connection"] = connection
    cfg.attributes["schema"] = schema
    return cfg


def _script(connection: Connection, schema: str | None) -> Any:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(_config(connection, schema))


def heads() -> list[str]:
    """The head revisions of the tree (a healthy tree has exactly one)."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return list(ScriptDirectory.from_config(cfg).get_heads())


def head() -> str:
    """The head revision, without reading the tree."""
    return HEAD


def current_revision(connection: Connection, schema: str | None = None) -> str | None:
    """The revision the database is at, or None when memori never ran there."""
    if not inspect(connection).has_table(VERSION_TABLE, schema=schema):
        return None
    versions = table(VERSION_TABLE, column("version_num"), schema=schema)
    rows = connection.execute(select(versions.c.version_num)).scalars().all()
    if len(rows) <= 1:
        return rows[0] if rows else None
    return _alembic_current_revision(connection, schema)  # several heads: alembic says so


def _alembic_current_revision(connection: Connection, schema: str | None) -> str | None:
    from alembic.runtime.migration import MigrationContext

    ctx = MigrationContext.configure(
        connection, opts={"version_table": VERSION_TABLE, "version_table_schema": schema}
    )
    rev: str | None = ctx.get_current_revision()
    return rev


def upgrade(connection: Connection, revision: str = "head", schema: str | None = None) -> None:
    from alembic import command

    command.upgrade(_config(connection, schema), revision)


def downgrade(connection: Connection, revision: str, schema: str | None = None) -> None:
    from alembic import command

    command.downgrade(_config(connection, schema), revision)


def ensure_schema(
    connection: Connection, *, url_hint: str, migrate: bool = False, schema: str | None = None
) -> str:
    """Create a fresh database at head, upgrade when asked, else refuse an old schema.

    Returns the revision the database is at afterwards. ``url_hint`` (already
    redacted) goes into the error message's command.
    """
    current = current_revision(connection, schema)
    target = head()
    if current == target:
        return current
    if current is None:
        if inspect(connection).has_table(TURNS, schema=schema):
            raise SchemaOutdatedError(None, target, f"memori migrate {url_hint}")
        upgrade(connection, "head", schema)
        return target
    known = {s.revision for s in _script(connection, schema).walk_revisions()}
    if current not in known:
        raise SchemaTooNewError(
            f"database schema revision {current} is unknown to this memori (newer?); "
            "upgrade memori"
        )
    if not migrate:
        raise SchemaOutdatedError(current, target, f"memori migrate {url_hint}")
    upgrade(connection, "head", schema)
    return target
