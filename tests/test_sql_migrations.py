"""The shared Alembic tree on SQLite: one head, up and down, and old schemas refused."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Engine

from memori.backends.sql import migrate
from memori.backends.sql.tables import VERSION_TABLE
from memori.backends.sqlite.store import open_store
from memori.core import Memory, SchemaOutdatedError, SchemaTooNewError, Scope, Turn

MEMORI_TABLES = {"memori_turns", "memori_memories", "memori_outbox", "memori_meta"}
FTS_TABLES = {"memori_turns_fts", "memori_memories_fts"}


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'm.db'}"


@pytest.fixture
def engine(url: str) -> Engine:
    eng = create_engine(url)
    yield eng  # type: ignore[misc]
    eng.dispose()


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def _run(engine: Engine, fn: str, revision: str) -> None:
    with engine.begin() as conn:
        getattr(migrate, fn)(conn, revision)


def test_tree_has_a_single_head() -> None:
    assert len(migrate.heads()) == 1
    assert migrate.head() == migrate.heads()[0]  # HEAD, the constant, follows the tree


def test_opening_a_database_at_head_does_not_import_alembic(tmp_path: Path) -> None:
    """Every open after the first reads the version table with one query: alembic (about
    half a second of imports) loads only to create or upgrade a schema."""
    url = f"sqlite:///{tmp_path / 'm.db'}"
    code = (f"from memori import Memori\nMemori({url!r}, embedder='hash').close()\n"
            "import sys\nprint('alembic' in sys.modules)")
    first = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
    again = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
    assert (first.stdout.strip(), again.stdout.strip()) == ("True", "False"), (
        first.stderr[-2000:] + again.stderr[-2000:])


def test_revisions_0001_and_0002_chain() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(cfg)
    assert script.get_revision("0002").down_revision == "0001"
    assert script.get_revision("0001").down_revision is None


def test_upgrade_and_downgrade_on_sqlite(engine: Engine) -> None:
    _run(engine, "upgrade", "head")
    assert MEMORI_TABLES | FTS_TABLES | {VERSION_TABLE} <= _tables(engine)
    with engine.connect() as conn:
        assert migrate.current_revision(conn) == migrate.head()
    _run(engine, "downgrade", "0001")
    assert not FTS_TABLES & _tables(engine)
    assert _tables(engine) >= MEMORI_TABLES
    _run(engine, "downgrade", "base")
    assert not (MEMORI_TABLES | FTS_TABLES) & _tables(engine)
    with engine.connect() as conn:
        assert migrate.current_revision(conn) is None
    _run(engine, "upgrade", "head")
    assert _tables(engine) >= MEMORI_TABLES | FTS_TABLES


def test_version_table_is_memori_specific(engine: Engine) -> None:
    _run(engine, "upgrade", "head")
    assert "alembic_version" not in _tables(engine)
    with engine.connect() as conn:
        rows = conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").all()
    assert [r[0] for r in rows] == [migrate.head()]


def test_old_schema_is_refused_with_the_command_to_run(url: str, engine: Engine) -> None:
    _run(engine, "upgrade", "0001")
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO memori_memories (entity_id, id, process_id, shared, kind, content, "
            "session_id, created_at, count, source_turn_ids, metadata) "
            "VALUES ('e', 'm1', NULL, 0, 'fact', 'written before full-text search', NULL, 1.0, "
            "1, '[]', '{}')"
        )
    store = open_store(url)
    with pytest.raises(SchemaOutdatedError) as info:
        store.setup()
    assert info.value.current == "0001"
    assert f"memori migrate {url}" in str(info.value)
    store.close()
    with open_store(url, migrate=True) as upgraded:
        upgraded.setup()
        hits = upgraded.search_memories(Scope("e"), text="search")
        assert [h.id for h in hits] == ["m1"]  # the upgrade indexed existing rows
        upgraded.put_memories([Memory("e", "after the upgrade")])
        assert upgraded.admin_stats()["revision"] == migrate.head()


def test_tables_without_version_are_refused(url: str, engine: Engine) -> None:
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE memori_turns (id TEXT)")
    store = open_store(url)
    with pytest.raises(SchemaOutdatedError, match="memori migrate"):
        store.setup()
    store.close()


def test_unknown_revision_is_too_new(url: str, engine: Engine) -> None:
    _run(engine, "upgrade", "head")
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {VERSION_TABLE} SET version_num = '9999'")
    store = open_store(url)
    with pytest.raises(SchemaTooNewError):
        store.setup()
    store.close()


def test_downgrade_keeps_base_rows_and_drops_the_index(url: str, engine: Engine) -> None:
    with open_store(url) as store:
        store.append_turns([Turn("e", "s", "user", "kept across the downgrade")])
    _run(engine, "downgrade", "0001")
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM memori_turns").scalar_one() == 1
        triggers = conn.exec_driver_sql(
            "SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").scalar_one()
    assert triggers == 0
    _run(engine, "upgrade", "head")
    with open_store(url) as store:
        assert len(store.search_turns(Scope("e", None, "s"), text="downgrade")) == 1
