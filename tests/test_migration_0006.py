"""Revision 0006 (memories gain ``pinned`` and ``expires_at``): an upgrade from 0005 with
``memori migrate`` keeps every memory (unpinned, never expiring), its text index and
entity-version triggers; a fresh database is created with the columns; downgrade works."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect
from sqlalchemy.engine import Engine

from memori.backends.sql import migrate
from memori.backends.sqlite.store import open_store
from memori.core import SchemaOutdatedError, Scope
from pg_schema import schema_at

MEMORI = shutil.which("memori", path=str(Path(sys.executable).parent)) or "memori"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'm.db'}"


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    eng = create_engine(url)
    yield eng
    eng.dispose()


def _columns(engine: Engine) -> set[str]:
    return {c["name"] for c in inspect(engine).get_columns("memori_memories")}


def test_a_fresh_database_has_the_columns(url: str, engine: Engine) -> None:
    assert migrate.HEAD == migrate.heads()[0] >= "0006"
    with open_store(url) as store:
        store.setup()
    assert {"pinned", "expires_at"} <= _columns(engine)


def test_memori_migrate_upgrades_0005_and_keeps_memories(url: str, engine: Engine) -> None:
    with engine.begin() as conn:
        migrate.upgrade(conn, "0005")
        conn.exec_driver_sql(
            "INSERT INTO memori_memories (entity_id, id, process_id, shared, kind, content, "
            "session_id, created_at, count, source_turn_ids, metadata) "
            "VALUES ('e', 'm1', NULL, 0, 'fact', 'written before pinning existed', NULL, 1.0, "
            "1, '[]', '{}')")
    assert "pinned" not in _columns(engine)
    store = open_store(url)
    with pytest.raises(SchemaOutdatedError, match="memori migrate"):
        store.setup()
    store.close()
    out = subprocess.run([MEMORI, "migrate", url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert {"pinned", "expires_at"} <= _columns(engine)
    with open_store(url) as store:
        store.setup()
        old = store.get_memory(Scope("e"), "m1")
        assert old is not None and (old.pinned, old.expires_at) == (False, None)
        assert [h.id for h in store.search_memories(Scope("e"), text="pinning")] == ["m1"]
        assert store.update_memory(Scope("e"), "m1", {"pinned": True, "expires_at": 5.0})
        assert [m.id for m in store.list_pinned(Scope("e"))] == ["m1"]
        assert [h.item.expires_at for h in  # the cached items follow the update (triggers)
                store.search_memories(Scope("e"), text="pinning")] == [5.0]


def test_downgrade_to_0005_keeps_memories(url: str, engine: Engine) -> None:
    with open_store(url) as store:
        store.setup()
    with engine.begin() as conn:
        conn.exec_driver_sql(
            "INSERT INTO memori_memories (entity_id, id, process_id, shared, kind, content, "
            "session_id, created_at, count, source_turn_ids, metadata, pinned) "
            "VALUES ('e', 'm1', NULL, 0, 'fact', 'kept across the downgrade', NULL, 1.0, "
            "1, '[]', '{}', 1)")
        migrate.downgrade(conn, "0005")
    assert "pinned" not in _columns(engine)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM memori_memories").scalar_one() == 1
    with engine.begin() as conn:
        migrate.upgrade(conn, "head")
    with open_store(url) as store:
        store.setup()
        assert [h.id for h in store.search_memories(Scope("e"), text="downgrade")] == ["m1"]


def test_postgres_upgrades_0005_and_keeps_memories(pg_url: str) -> None:
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    from sqlalchemy import text

    from memori.backends.postgres.layout import quote_ident
    from memori.backends.postgres.store import open_store as open_pg

    with schema_at(pg_url, "0005") as (admin, schema):
        with admin.begin() as conn:
            conn.execute(text(
                f"INSERT INTO {quote_ident(schema)}.memori_memories (entity_id, id, process_id, "
                "shared, kind, content, created_at, count, source_turn_ids, metadata) VALUES "
                "('alice', 'm1', NULL, false, 'fact', 'falcon before pins', 1.0, 1, '[]', '{}')"))
        with open_pg(pg_url, schema=schema) as old, pytest.raises(SchemaOutdatedError):
            old.setup()
        with open_pg(pg_url, schema=schema, migrate=True) as s:
            s.setup()
            got = s.get_memory(Scope("alice"), "m1")
            assert got is not None and (got.pinned, got.expires_at) == (False, None)
            assert s.update_memory(Scope("alice"), "m1", {"pinned": True})
            assert [m.id for m in s.list_pinned(Scope("alice"))] == ["m1"]
            assert [m.id for m in s.list_memories(Scope("alice"))] == ["m1"]
        with admin.begin() as conn:
            migrate.downgrade(conn, "0005", schema)
            migrate.upgrade(conn, "head", schema)
