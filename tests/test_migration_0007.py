"""Revision 0007 (CJK text indexed by characters and pairs): an upgrade from 0006 makes
Chinese and Japanese text stored before it searchable by the words inside it; a
downgrade gives the index its old content back; a fresh database is at 0007."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from memori.backends.sql import migrate
from memori.backends.sqlite.store import open_store
from memori.core import Memory, Scope, Turn
from pg_schema import schema_at

MEMORI = shutil.which("memori", path=str(Path(sys.executable).parent)) or "memori"
ALLERGY = "我对花生过敏 (peanut)"
TOKYO = "東京に住んでいます"


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'm.db'}"


@pytest.fixture
def engine(url: str) -> Iterator[Engine]:
    eng = create_engine(url)
    yield eng
    eng.dispose()


def _fts(engine: Engine, table: str) -> set[str]:
    with engine.connect() as conn:
        return {r[0] for r in conn.exec_driver_sql(f"SELECT content FROM {table}_fts")}


def test_head_is_0007() -> None:
    assert migrate.HEAD == "0007" == migrate.heads()[0]


def test_memori_migrate_upgrades_0006_and_indexes_cjk_rows(url: str, engine: Engine) -> None:
    with engine.begin() as conn:
        migrate.upgrade(conn, "0006")
        conn.exec_driver_sql(
            "INSERT INTO memori_memories (entity_id, id, process_id, shared, kind, content, "
            "session_id, created_at, count, source_turn_ids, metadata) "
            f"VALUES ('e', 'm1', NULL, 0, 'fact', '{ALLERGY}', NULL, 1.0, 1, '[]', '{{}}'), "
            "('e', 'm2', NULL, 0, 'fact', 'plain English', NULL, 2.0, 1, '[]', '{}')")
    assert _fts(engine, "memori_memories") == {ALLERGY, "plain English"}
    out = subprocess.run([MEMORI, "migrate", url], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "plain English" in _fts(engine, "memori_memories")  # other rows are untouched
    with open_store(url) as store:
        store.setup()
        for query in ("花生", "花", "peanut", "过敏"):
            assert [h.id for h in store.search_memories(Scope("e"), text=query)] == ["m1"]
        assert store.search_memories(Scope("e"), text="苹果") == []
        assert [h.id for h in store.search_memories(Scope("e"), text="english")] == ["m2"]


def test_downgrade_to_0006_restores_the_text_and_upgrade_indexes_again(
    url: str, engine: Engine
) -> None:
    scope = Scope("e", None, "s")
    with open_store(url) as store:
        store.setup()
        store.put_memories([Memory(entity_id="e", id="m1", content=ALLERGY)])
        store.append_turns([Turn(entity_id="e", session_id="s", id="t1", role="user",
                                 content=TOKYO)])
        assert [h.id for h in store.search_turns(scope, text="東京")] == ["t1"]
    assert ALLERGY not in _fts(engine, "memori_memories")  # the store wrote the pairs
    with engine.begin() as conn:
        migrate.downgrade(conn, "0006")
    assert _fts(engine, "memori_memories") == {ALLERGY}
    assert _fts(engine, "memori_turns") == {TOKYO}
    with engine.begin() as conn:
        migrate.upgrade(conn, "head")
    with open_store(url) as store:
        store.setup()
        assert [h.id for h in store.search_memories(Scope("e"), text="花生")] == ["m1"]
        assert [h.id for h in store.search_turns(scope, text="東京")] == ["t1"]
        assert [h.id for h in store.search_turns(scope, text="住んで")] == ["t1"]


def test_postgres_upgrades_0006_and_indexes_cjk_rows(pg_url: str) -> None:
    pytest.importorskip("psycopg", reason="the postgres extra is not installed")
    from sqlalchemy import text

    from memori.backends.postgres.layout import quote_ident
    from memori.backends.postgres.store import open_store as open_pg

    with schema_at(pg_url, "0006") as (admin, schema):
        with open_pg(pg_url, schema=schema, migrate=True) as s:
            s.setup()
        with admin.begin() as conn:  # back to 0006: the row is indexed as 0003 did
            migrate.downgrade(conn, "0006", schema)
            conn.execute(text(
                f"INSERT INTO {quote_ident(schema)}.memori_memories (entity_id, id, process_id, "
                "shared, kind, content, created_at, count, source_turn_ids, metadata, "
                "search_tsv) VALUES ('alice', 'm1', NULL, false, 'fact', :c, 1.0, 1, '[]', "
                "'{}', to_tsvector('simple', :c))"), {"c": ALLERGY})
        with open_pg(pg_url, schema=schema, migrate=True) as s:
            s.setup()
            for query in ("花生", "花", "peanut"):
                assert [h.id for h in s.search_memories(Scope("alice"), text=query)] == ["m1"]
            assert s.search_memories(Scope("alice"), text="苹果") == []
        with admin.begin() as conn:
            migrate.downgrade(conn, "0006", schema)
            migrate.upgrade(conn, "head", schema)
