"""Forgotten means gone: after ``forget`` and ``close`` no byte of the entity is left
in any file of the SQLite database (main file, WAL, shared memory, freed pages, FTS5
shadow tables), nor in the store's in-process sets; the other entities' are."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine

from memori import Memori
from memori.backends.sqlite.connection import extension_driver, sqlite_vec_module
from memori.backends.sqlite.store import SQLiteStore
from memori.core import ExtractState, Memory, Scope, Turn
from memori.testing import OpenAIServer, Reply

if TYPE_CHECKING:
    from memori.backends.postgres.store import PostgresStore

HAS_VEC = extension_driver() is not None and sqlite_vec_module() is not None
PATHS = ["exact", pytest.param("sqlite-vec", marks=pytest.mark.skipif(
    not HAS_VEC, reason="no sqlite3 module here can load sqlite-vec"))]
TAGS = {"alice": "alicejqzvkw", "bob": "bobxqmvzjk", "carol": "carolwkqjzv"}
"""Each user's marker: one FTS token (lower case), in every text, metadata value and id."""
FORGOTTEN = "bob"
BULK = 150
"""Turns and memories per user written through the store (enough to split pages and
make the FTS5 index merge segments)."""


def entity(user: str) -> str:
    return f"{TAGS[user]}@example.com"


def needles(user: str) -> list[bytes]:
    """Byte strings that betray the user: the marker (as text and as an FTS5 term) and
    the hex of the entity id (the FTS5 entity key, upper case in the content table and
    folded to lower case in the index). The first characters are cut off: FTS5 stores a
    term as a suffix of the one before it."""
    tail = TAGS[user][3:].encode()
    return [tail, tail.hex().encode(), tail.hex().upper().encode()]


def traces(directory: Path, user: str) -> dict[str, int]:
    """How often each needle of ``user`` occurs in each file of the directory, as bytes."""
    found: dict[str, int] = {}
    for path in sorted(directory.iterdir()):
        data = path.read_bytes()
        for needle in needles(user):
            if count := data.count(needle):
                found[f"{path.name}: {needle.decode()}"] = count
    return found


def open_memori(db: Path, path: str, **options: object) -> Memori:
    mem = Memori(f"sqlite:///{db}", embedder="hash",
                 store_options={"vector_search": path, "item_cache_after": 0, **options})
    assert isinstance(mem.store, SQLiteStore) and mem.store.vector_path == path
    return mem


def write_users(mem: Memori, server: OpenAIServer) -> None:
    """Every user's marker through the public API (remember, record, the LLM path,
    recall to fill the caches) and, in bulk, through the store (as already extracted:
    ``flush`` waits only for the extraction of what was recorded through memori)."""
    client = mem.llm.register(server.client())
    assert mem.embedder is not None
    for user, tag in TAGS.items():
        eid = entity(user)
        with mem.attribution(entity_id=eid, process_id="coach"):
            mem.remember(f"My locker code is zebracorn-7781-{tag}",
                         metadata={"badge": f"badge-{tag}"})
            session = mem.new_session()
            mem.record([Turn(entity_id=eid, process_id="coach", session_id=session,
                             role="user", content=f"I live at zebracorn-7781-{tag} street",
                             metadata={"origin": f"kiosk-{tag}"})])
            server.enqueue(Reply(text=f"Noted: zebracorn-7781-{tag}."))
            client.chat.completions.create(model="gpt-4o-mini", messages=[
                {"role": "user", "content": f"Remember zebracorn-7781-{tag} for me"}])
        texts = [f"note {i} about zebracorn-7781-{tag} and lorem ipsum dolor" for i in range(BULK)]
        vectors = mem.embedder.embed(texts)
        mem.store.append_turns([
            Turn(entity_id=eid, session_id="bulk", role="user", content=text,
                 metadata={"tag": tag}, embedding=tuple(v), extract_state=ExtractState.DONE)
            for text, v in zip(texts, vectors, strict=True)])
        mem.store.put_memories([
            Memory(entity_id=eid, content=text, metadata={"tag": tag}, embedding=tuple(v))
            for text, v in zip(texts, vectors, strict=True)])
    mem.flush()
    for user, tag in TAGS.items():
        hits = mem.recall(f"zebracorn-7781-{tag}", entity_id=entity(user), process_id="coach",
                          include_history=True)
        assert hits and all(tag in h.item.content for h in hits)
    client.close()


def assert_only_forgotten_gone(directory: Path) -> None:
    assert traces(directory, FORGOTTEN) == {}
    for user in TAGS:
        if user != FORGOTTEN:
            assert traces(directory, user), f"{user}'s data should still be there"


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """The database file, alone in its directory (every file there is scanned)."""
    directory = tmp_path / "db"
    directory.mkdir()
    return directory / "memori.db"


@pytest.fixture
def written(db: Path, openai_server: OpenAIServer, request: pytest.FixtureRequest
            ) -> Iterator[Memori]:
    mem = open_memori(db, request.param)
    try:
        write_users(mem, openai_server)
        assert traces(db.parent, FORGOTTEN), "the marker must be on disk before forget"
        yield mem
    finally:
        mem.close()


@pytest.mark.parametrize("written", PATHS, indirect=True)
def test_forgotten_entity_leaves_no_byte_in_the_database_files(
    written: Memori, db: Path
) -> None:
    assert written.forget(entity_id=entity(FORGOTTEN)) > 2 * BULK
    assert_only_forgotten_gone(db.parent)  # already after forget, before close
    written.close()
    assert_only_forgotten_gone(db.parent)
    with Memori(f"sqlite:///{db}", embedder="hash") as mem:  # the others still work
        assert mem.store.raw_count(entity(FORGOTTEN)) == 0  # type: ignore[attr-defined]
        hits = mem.recall("zebracorn-7781-alicejqzvkw", entity_id=entity("alice"))
        assert hits


@pytest.mark.parametrize("written", PATHS, indirect=True)
def test_forget_in_another_process_leaves_no_byte(written: Memori, db: Path) -> None:
    path = written.store.vector_path  # type: ignore[attr-defined]
    script = textwrap.dedent(f"""
        from memori import Memori
        mem = Memori({f"sqlite:///{db}"!r}, embedder="hash",
                     store_options={{"vector_search": {path!r}}})
        assert mem.forget(entity_id={entity(FORGOTTEN)!r}) > 0
        mem.close()
    """)
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    assert_only_forgotten_gone(db.parent)  # this process still has the file open
    scope = Scope(entity(FORGOTTEN), "coach")
    assert written.store.search_memories(scope, text="zebracorn", limit=5) == []
    written.close()
    assert_only_forgotten_gone(db.parent)


@pytest.mark.parametrize("written", PATHS, indirect=True)
def test_forget_drops_the_entity_from_the_in_process_sets(written: Memori) -> None:
    store = written.store
    assert isinstance(store, SQLiteStore)
    before = store.admin_stats()
    assert before["item_cache"]["items"] > 0 and before["vector_cache"]["items"] > 0
    sets = {kind: _held(store, kind, entity(FORGOTTEN)) for kind in ("turns", "memories")}
    assert all(sets.values()), "recall should have cached the entity's sets"
    store.forget(entity(FORGOTTEN))
    assert not any(_held(store, kind, entity(FORGOTTEN)) for kind in ("turns", "memories"))
    after = store.admin_stats()
    for cache in ("item_cache", "vector_cache"):
        assert after[cache]["items"] < before[cache]["items"]


def _held(store: SQLiteStore, kind: str, entity_id: str) -> bool:
    cache = store._cache  # the store's own sets: what "kept in process" means here
    assert cache is not None
    return cache.holds(kind, entity_id)  # type: ignore[arg-type]


def test_close_truncates_the_wal_while_another_connection_is_open(db: Path) -> None:
    mem = Memori(f"sqlite:///{db}", embedder="hash")
    store = mem.store
    assert isinstance(store, SQLiteStore)
    # the store's own sqlite library: two copies of SQLite in one process do not see
    # each other's locks; this connection keeps SQLite from removing the WAL at close
    other = store.engine.dialect.dbapi.connect(str(db))  # type: ignore[union-attr]
    try:
        with mem.attribution(entity_id=entity("alice")):
            mem.remember("zebracorn-7781-alicejqzvkw likes tea")
        other.execute("SELECT count(*) FROM memori_memories").fetchone()
        wal = db.with_name(db.name + "-wal")
        assert wal.stat().st_size > 0
        mem.close()
        assert wal.stat().st_size == 0
    finally:
        other.close()


def test_every_connection_runs_with_secure_delete(db: Path) -> None:
    for path in ("exact", *(["sqlite-vec"] if HAS_VEC else [])):
        with open_memori(db, path) as mem:
            store = mem.store
            assert isinstance(store, SQLiteStore)
            with store.engine.connect() as a, store.engine.connect() as b:  # two pooled
                for conn in (a, b):
                    assert conn.exec_driver_sql("PRAGMA secure_delete").scalar_one() == 1


def test_admin_vacuum_completes_a_forget_without_vacuum(
    db: Path, openai_server: OpenAIServer
) -> None:
    mem = open_memori(db, "exact", vacuum_on_forget=False)
    try:
        write_users(mem, openai_server)
        mem.forget(entity_id=entity(FORGOTTEN))
        mem.store.admin_vacuum()  # type: ignore[attr-defined]
    finally:
        mem.close()
    assert_only_forgotten_gone(db.parent)


def test_admin_vacuum_keeps_the_data(db: Path) -> None:
    with Memori(f"sqlite:///{db}", embedder="hash") as mem:
        with mem.attribution(entity_id=entity("carol")):
            mem.remember("zebracorn-7781-carolwkqjzv plays chess")
        mem.store.admin_vacuum()  # type: ignore[attr-defined]
        assert [h.item.content for h in mem.recall("chess", entity_id=entity("carol"))] == [
            "zebracorn-7781-carolwkqjzv plays chess"]
    assert traces(db.parent, "carol")


def test_forgotten_data_stays_gone_after_new_writes(db: Path) -> None:
    """Writes after a forget reuse the zeroed pages; nothing of the old rows comes back."""
    with Memori(f"sqlite:///{db}", embedder="hash") as mem:
        for user in TAGS:
            with mem.attribution(entity_id=entity(user)):
                for i in range(40):
                    mem.remember(f"fact {i} zebracorn-7781-{TAGS[user]}")
        mem.forget(entity_id=entity(FORGOTTEN))
        with mem.attribution(entity_id=entity("alice")):
            for i in range(40):
                mem.remember(f"later fact {i} of alice")
    assert_only_forgotten_gone(db.parent)


def test_remember_after_forget_is_a_fresh_entity(db: Path) -> None:
    with Memori(f"sqlite:///{db}", embedder="hash") as mem:
        with mem.attribution(entity_id=entity(FORGOTTEN)):
            mem.remember("zebracorn-7781-bobxqmvzjk old")
            assert mem.recall("old")
        mem.forget(entity_id=entity(FORGOTTEN))
        with mem.attribution(entity_id=entity(FORGOTTEN)):
            mem.remember("a new start")
            assert [h.item.content for h in mem.recall("old new start")] == ["a new start"]


# PostgreSQL: forget leaves dead tuples; admin_vacuum reclaims them


@pytest.fixture
def pg_store(pg_url: str) -> Iterator[PostgresStore]:
    pytest.importorskip("psycopg", reason="pip install 'memori[postgres]'")
    from memori.backends.postgres.store import open_store as open_pg_store

    schema = f"memori_forget_{uuid.uuid4().hex[:10]}"
    s = open_pg_store(pg_url, vector_dim=4, schema=schema)
    s.setup()
    yield s
    s.close()
    admin = create_engine(pg_url)
    with admin.begin() as conn:
        conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    admin.dispose()


def _dead_tuples(engine: Engine, schema: str) -> dict[str, tuple[int, bool]]:
    """``table: (n_dead_tup, vacuumed)`` of memori's tables, read fresh."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT pg_stat_clear_snapshot()")
        rows = conn.execute(text(
            "SELECT relname, n_dead_tup, last_vacuum IS NOT NULL FROM pg_stat_user_tables "
            "WHERE schemaname = :s AND relname IN ('memori_turns', 'memori_memories')"
        ), {"s": schema}).all()
    return {name: (int(dead), bool(vacuumed)) for name, dead, vacuumed in rows}


def _wait_for(check: Callable[[], bool], seconds: float = 15.0) -> bool:
    """Backends report their statistics about once a second: poll for them."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.parametrize("full", [False, True])
def test_postgres_admin_vacuum_reclaims_what_forget_leaves(
    pg_store: PostgresStore, pg_url: str, full: bool
) -> None:
    schema = pg_store.schema
    assert schema is not None
    for user, tag in TAGS.items():
        pg_store.append_turns([Turn(entity_id=entity(user), session_id="s", role="user",
                                    content=f"turn {i} zebracorn-7781-{tag}") for i in range(50)])
        pg_store.put_memories([Memory(entity_id=entity(user), content=f"fact {i} {tag}")
                               for i in range(50)])
    assert pg_store.forget(entity(FORGOTTEN)) == 100
    observer = create_engine(pg_url)
    try:
        assert _wait_for(lambda: all(
            dead >= 50 for dead, _ in _dead_tuples(observer, schema).values())), \
            "the deleted rows should show as dead tuples before VACUUM"
        vacuumed = pg_store.admin_vacuum(full=full)
        assert len(vacuumed) == 3 and all(schema in name for name in vacuumed)
        after = _dead_tuples(observer, schema)
        assert after == {"memori_turns": (0, not full), "memori_memories": (0, not full)}
    finally:
        observer.dispose()
    scope = Scope(entity("alice"))
    assert pg_store.count_turns(scope) == 50 and pg_store.count_memories(scope) == 50
    assert pg_store.raw_count(entity(FORGOTTEN)) == 0
