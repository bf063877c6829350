"""The PostgreSQL backend beyond the conformance suite: targets, native async, passwords,
migrations, pgvector errors, row-level security, query plans and bulk writes.

The server is ``MEMORI_TEST_POSTGRES_URL`` if set, else a throwaway PostgreSQL 16
with pgvector from the ``pgserver`` wheel (started once per test session). Tests
that create roles or databases skip themselves on a server where the test role
may not.
"""

from __future__ import annotations

import asyncio
import logging
import os
import subprocess
import sys
import traceback
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace
from typing import Any

import pytest

psycopg = pytest.importorskip("psycopg", reason="the postgres extra is not installed")

from sqlalchemy import create_engine, inspect, select, text  # noqa: E402
from sqlalchemy.engine import URL, Engine, make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from memori.backends.postgres.layout import quote_ident  # noqa: E402
from memori.backends.postgres.steps import Exec  # noqa: E402
from memori.backends.postgres.store import PostgresStore, open_store  # noqa: E402
from memori.backends.postgres.text import (  # noqa: E402
    entity_lexeme,
    tsquery_text,
    tsvector_text,
    words,
)
from memori.backends.sql import migrate  # noqa: E402
from memori.conformance.checks import assert_same_memory, assert_same_records  # noqa: E402
from memori.conformance.scoring import words as contract_words  # noqa: E402
from memori.core import (  # noqa: E402
    Capability,
    ConfigurationError,
    ExtractState,
    Memory,
    SchemaOutdatedError,
    Scope,
    StoreUnavailableError,
    Turn,
    get_plugins,
)
from memori.core.plan_store import Work  # noqa: E402
from memori.core.records import to_record  # noqa: E402
from memori.testing.postgres_server import URL_ENV, shared_server  # noqa: E402

DIM = 8


def _vec(*xs: float) -> tuple[float, ...]:
    return tuple(float(x) for x in xs) + (0.0,) * (DIM - len(xs))


# fixtures


@pytest.fixture(scope="session")
def pg_url() -> str:
    if not os.environ.get(URL_ENV):
        pytest.importorskip("pgserver", reason=f"pip install pgserver, or set {URL_ENV}")
    return shared_server().url


@pytest.fixture(scope="session")
def admin(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
    yield engine
    engine.dispose()


def _can_create_roles(admin: Engine) -> bool:
    with admin.connect() as conn:
        return bool(conn.execute(text(
            "SELECT rolsuper OR rolcreaterole FROM pg_roles WHERE rolname = current_user"
        )).scalar())


def _drop_schema(admin: Engine, schema: str) -> None:
    with admin.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE"))


@pytest.fixture
def schema(admin: Engine) -> Iterator[str]:
    name = f"memori_t_{uuid.uuid4().hex[:12]}"
    yield name
    _drop_schema(admin, name)


@pytest.fixture
def store(pg_url: str, schema: str) -> Iterator[PostgresStore]:
    s = open_store(pg_url, vector_dim=DIM, schema=schema)
    s.setup()
    yield s
    s.close()


@pytest.fixture
def role(admin: Engine) -> Iterator[tuple[str, str]]:
    """An unprivileged login role (no superuser, no BYPASSRLS) and its password."""
    if not _can_create_roles(admin):
        pytest.skip("the test server's role may not create roles")
    name, password = f"memori_r_{uuid.uuid4().hex[:10]}", f"pw-{uuid.uuid4().hex}"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE ROLE {quote_ident(name)} LOGIN PASSWORD '{password}' "
                          "NOSUPERUSER NOBYPASSRLS"))
    yield name, password
    with admin.begin() as conn:
        conn.execute(text(f"DROP OWNED BY {quote_ident(name)} CASCADE"))
        conn.execute(text(f"DROP ROLE IF EXISTS {quote_ident(name)}"))


def _as(url: str, user: str, password: str, database: str | None = None) -> str:
    u = make_url(url).set(username=user, password=password)
    if database is not None:
        u = u.set(database=database)
    return u.render_as_string(hide_password=False)


def _conninfo(url: str) -> dict[str, Any]:
    u = make_url(url)
    info = {"dbname": u.database, "user": u.username, "password": u.password,
            "host": u.host or u.query.get("host"), "port": u.port}
    return {k: v for k, v in info.items() if v is not None}


def _mem(entity: str, content: str, vec: tuple[float, ...] | None = None, **kw: Any) -> Memory:
    return Memory(entity_id=entity, content=content, embedding=vec, **kw)


# URLs and connection objects


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "postgresql+psycopg"])
def test_every_url_form_opens_the_database(pg_url: str, schema: str, scheme: str) -> None:
    url = scheme + "://" + pg_url.split("://", 1)[1]
    assert get_plugins().backend_for_url(url).name == "postgres"
    with open_store(url, vector_dim=DIM, schema=schema) as s:
        s.setup()
        s.put_memories([_mem("alice", f"written through {scheme}")])
        assert [m.content for m in s.list_memories(Scope("alice"))] == [
            f"written through {scheme}"]
        s.forget("alice")


def test_a_foreign_url_or_object_is_refused(pg_url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store("mysql://u@h/db")
    with pytest.raises(ConfigurationError):
        open_store(object())
    with pytest.raises(ConfigurationError):
        open_store(pg_url, vector_index="ivfflat")
    with pytest.raises(ConfigurationError):
        open_store(pg_url, no_such_option=1)


def test_engines_and_connections_are_routed_to_postgres(pg_url: str) -> None:
    plugins = get_plugins()
    engine, aengine = create_engine(pg_url), create_async_engine(pg_url)
    conn = psycopg.connect(**_conninfo(pg_url))
    try:
        for obj in (engine, aengine, conn):
            assert plugins.backend_for_object(obj).name == "postgres"
    finally:
        conn.close()
        engine.dispose()
        asyncio.run(aengine.dispose())


def test_a_callers_engine_is_used_not_disposed(pg_url: str, schema: str) -> None:
    engine = create_engine(pg_url)
    try:
        s = open_store(engine, vector_dim=DIM, schema=schema)
        s.setup()
        assert Capability.NATIVE_ASYNC in s.capabilities, "an async twin from the engine's URL"
        s.put_memories([_mem("alice", "through a caller's engine")])
        assert asyncio.run(_async_count(s)) == 1
        s.close()
        with engine.connect() as conn:
            assert conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


async def _async_count(s: PostgresStore) -> int:
    try:
        return await s.acount_memories(Scope("alice"))
    finally:
        if s._engines.async_ is not None:
            await s._engines.async_.dispose()


def test_a_borrowed_psycopg_connection_stays_open_with_its_settings(
    pg_url: str, schema: str
) -> None:
    conn = psycopg.connect(**_conninfo(pg_url), autocommit=True)
    try:
        s = open_store(conn, vector_dim=DIM, schema=schema)
        s.setup()
        s.put_memories([_mem("alice", "borrowed", _vec(1))])
        assert [h.content for h in s.search_memories(Scope("alice"), vector=_vec(1))] == [
            "borrowed"]
        assert Capability.NATIVE_ASYNC not in s.capabilities
        assert asyncio.run(s.acount_memories(Scope("alice"))) == 1, "thread fallback works"
        s.close()
        assert not conn.closed and conn.autocommit is True
        table = f"{quote_ident(schema)}.memori_memories"
        assert conn.execute(f"SELECT count(*) FROM {table}".encode()).fetchone() == (1,)
    finally:
        conn.close()


def test_a_borrowed_connection_inside_a_transaction_is_refused(
    pg_url: str, schema: str
) -> None:
    conn = psycopg.connect(**_conninfo(pg_url))
    try:
        conn.execute("SELECT 1")  # opens a transaction (autocommit off)
        s = open_store(conn, vector_dim=DIM, schema=schema)
        with pytest.raises(ConfigurationError, match="transaction in progress"):
            s.setup()
        s.close()
        assert not conn.closed
    finally:
        conn.close()


async def test_a_borrowed_async_connection(pg_url: str, schema: str) -> None:
    conn = await psycopg.AsyncConnection.connect(**_conninfo(pg_url))
    try:
        s = open_store(conn, vector_dim=DIM, schema=schema)
        await s.asetup()
        await s.aput_memories([_mem("alice", "async borrowed falcon")])
        hits = await s.asearch_memories(Scope("alice"), text="falcon")
        assert [h.content for h in hits] == ["async borrowed falcon"]
        with pytest.raises(ConfigurationError, match="a\\* methods"):
            s.count_memories(Scope("alice"))
        await s.aclose()
        assert not conn.closed
    finally:
        await conn.close()


def test_pool_options_reach_the_engines(pg_url: str) -> None:
    s = open_store(pg_url, pool_size=3, max_overflow=2, pool_timeout=7)
    try:
        assert s._engines.sync is not None and s._engines.async_ is not None
        assert s._engines.sync.pool.size() == 3  # type: ignore[attr-defined]
        assert s._engines.async_.sync_engine.pool.size() == 3  # type: ignore[attr-defined]
    finally:
        s.close()


# native async


async def test_async_methods_run_without_worker_threads(
    pg_url: str, schema: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_threads(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the async path offloaded to a thread")

    monkeypatch.setattr(asyncio, "to_thread", no_threads)
    s = open_store(pg_url, vector_dim=DIM, schema=schema)
    assert Capability.NATIVE_ASYNC in s.capabilities
    await s.asetup()
    scope = Scope("alice", "coach", "s1")
    await s.aappend_turns([Turn("alice", "s1", "user", "falcon goal", process_id="coach",
                                embedding=_vec(1))])
    await s.aput_memories([_mem("alice", "falcon goal", _vec(1), process_id="coach")])
    assert len(await s.asearch_turns(scope, text="falcon", vector=_vec(1))) == 1
    assert len(await s.asearch_memories(scope, text="falcon", vector=_vec(1))) == 1
    assert [t.content for t in await s.aoutbox_pending(10)] == ["falcon goal"]
    assert await s.aforget("alice") == 2
    assert await s.araw_count("alice") == 0
    await s.aclose()


# passwords


def test_passwords_stay_out_of_reprs_errors_and_logs(
    pg_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    secret = f"s3cret-{uuid.uuid4().hex}"
    url = make_url(pg_url).set(password=secret, query={"host": "/nonexistent-memori-dir",
                                                       "connect_timeout": "2"})
    raw = url.render_as_string(hide_password=False)
    assert secret in raw
    caplog.set_level(logging.DEBUG)
    s = open_store(raw, vector_dim=DIM)
    assert secret not in repr(s) and "***" in repr(s)
    with pytest.raises(StoreUnavailableError) as info:
        s.setup()
    rendered = "".join(traceback.format_exception(info.value))
    assert secret not in str(info.value) and secret not in rendered
    assert secret not in caplog.text
    s.close()
    with pytest.raises(ConfigurationError) as bad:
        open_store(f"postgresql://u:{secret}@host:notaport/db")
    assert secret not in "".join(traceback.format_exception(bad.value))


def test_a_password_in_a_working_url_is_masked(pg_url: str, schema: str) -> None:
    secret = f"s3cret-{uuid.uuid4().hex}"
    with open_store(make_url(pg_url).set(password=secret).render_as_string(False),
                    vector_dim=DIM, schema=schema) as s:
        s.setup()
        assert secret not in repr(s) and secret not in str(s.admin_stats())


# migrations


def _columns(admin: Engine, schema: str, table: str) -> set[str]:
    with admin.connect() as conn:
        rows = conn.execute(text(
            "SELECT column_name FROM information_schema.columns "
            "WHERE table_schema = :s AND table_name = :t"), {"s": schema, "t": table})
        return {r[0] for r in rows}


def _policies(admin: Engine, schema: str) -> set[str]:
    with admin.connect() as conn:
        rows = conn.execute(text("SELECT tablename FROM pg_policies WHERE schemaname = :s"),
                            {"s": schema})
        return {r[0] for r in rows}


def test_migrations_go_up_and_down_on_postgres(admin: Engine, schema: str) -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(migrate.MIGRATIONS_DIR))
    assert ScriptDirectory.from_config(cfg).get_revision("0003").down_revision == "0002"
    assert len(migrate.heads()) == 1, "one head: 0003 sits in the single chain"
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {quote_ident(schema)}"))
    with admin.begin() as conn:
        migrate.upgrade(conn, "head", schema)
    assert "search_tsv" in _columns(admin, schema, "memori_memories")
    assert _policies(admin, schema) == {"memori_turns", "memori_memories", "memori_outbox"}
    indexes = {i["name"] for i in inspect(admin).get_indexes("memori_memories", schema=schema)}
    assert "memori_memories_search_idx" in indexes
    with admin.begin() as conn:
        migrate.downgrade(conn, "0002", schema)
    assert "search_tsv" not in _columns(admin, schema, "memori_turns")
    assert _policies(admin, schema) == set()
    with admin.begin() as conn:
        migrate.downgrade(conn, "base", schema)
    assert not set(inspect(admin).get_table_names(schema=schema)) & {
        "memori_turns", "memori_memories", "memori_outbox", "memori_meta"}
    with admin.begin() as conn:
        migrate.upgrade(conn, "head", schema)
        assert migrate.current_revision(conn, schema) == migrate.head()


def test_an_old_schema_is_refused_then_migrated_with_its_rows_searchable(
    pg_url: str, admin: Engine, schema: str
) -> None:
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {quote_ident(schema)}"))
        migrate.upgrade(conn, "0002", schema)
        conn.execute(text(
            f"INSERT INTO {quote_ident(schema)}.memori_memories (entity_id, id, process_id, "
            "shared, kind, content, created_at, count, source_turn_ids, metadata) VALUES "
            "('alice', 'm1', NULL, false, 'fact', 'Ünïcödé falcon_pace', 1.0, 1, '[]', '{}')"
        ))
    with open_store(pg_url, schema=schema) as old, pytest.raises(
        SchemaOutdatedError, match="memori migrate"
    ):
        old.setup()
    with open_store(pg_url, schema=schema, migrate=True) as s:
        s.setup()
        hits = s.search_memories(Scope("alice"), text="ÜNÏCÖDÉ FALCON_PACE")
        assert [h.id for h in hits] == ["m1"], "rows written before 0003 are back-filled"


def test_memori_migrate_command_upgrades_a_database(
    pg_url: str, admin: Engine, schema: str, role: tuple[str, str]
) -> None:
    """``memori migrate URL`` (search_path picks the schema); the password is never printed."""
    name, password = role
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {quote_ident(schema)} AUTHORIZATION {quote_ident(name)}"))
    url = make_url(_as(pg_url, name, password)).update_query_dict(
        {"options": f"-csearch_path={schema},public"})
    cmd = [sys.executable, "-m", "memori", "migrate", url.render_as_string(hide_password=False)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert password not in done.stdout + done.stderr
    assert {"memori_turns", "memori_memories"} <= set(inspect(admin).get_table_names(schema))


# pgvector


def test_a_role_that_may_not_create_pgvector_gets_the_fix_named(
    pg_url: str, admin: Engine, role: tuple[str, str]
) -> None:
    name, password = role
    database = f"memori_db_{uuid.uuid4().hex[:10]}"
    auto = admin.execution_options(isolation_level="AUTOCOMMIT")
    with auto.connect() as conn:
        conn.execute(text(f"CREATE DATABASE {quote_ident(database)} OWNER {quote_ident(name)}"))
    try:
        s = open_store(_as(pg_url, name, password, database), vector_dim=DIM)
        with pytest.raises(ConfigurationError, match="CREATE EXTENSION vector") as info:
            s.setup()
        assert password not in str(info.value)
        s.close()
        superuser = open_store(make_url(pg_url).set(database=database), vector_dim=DIM)
        superuser.setup()
        assert superuser.provisioned is not None and superuser.provisioned.pgvector
        superuser.close()
    finally:
        with auto.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS {quote_ident(database)} WITH (FORCE)"))


# row-level security


def _unscoped(s: PostgresStore) -> Any:
    """A plan that forgot its scope: every memory id of the table."""
    m = s._ctx.layout.memories

    def plan() -> Any:
        return sorted((r[0], r[1]) for r in (yield Exec(select(m.c.entity_id, m.c.id))))

    return plan()


def test_rls_hides_other_entities_from_an_unscoped_query(
    pg_url: str, admin: Engine, schema: str, role: tuple[str, str]
) -> None:
    name, password = role
    with admin.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA {quote_ident(schema)} AUTHORIZATION {quote_ident(name)}"))
    s = open_store(_as(pg_url, name, password), vector_dim=DIM, schema=schema,
                   row_level_security=True)
    try:
        s.setup()
        assert Capability.ROW_LEVEL_SECURITY in s.capabilities
        s.put_memories([_mem("alice", "a1", id="a1")])
        s.put_memories([_mem("bob", "b1", id="b1")])

        def run(plan: Any, entity_id: str | None) -> Any:
            return s.run(plan, Work("test", entity_id))

        assert run(_unscoped(s), "alice") == [("alice", "a1")]
        assert run(_unscoped(s), "bob") == [("bob", "b1")]
        assert run(_unscoped(s), "carol") == []
        assert run(_unscoped(s), None) == [("alice", "a1"), ("bob", "b1")], "admin calls"
        m = s._ctx.layout.memories

        def write_for_bob() -> Any:
            yield Exec(m.insert().values(
                entity_id="bob", id="b2", process_id=None, shared=False, kind="fact",
                content="x", created_at=1.0, count=1, source_turn_ids=[], metadata={}))

        with pytest.raises(Exception, match="row-level security"):
            run(write_for_bob(), "alice")
        owner = create_engine(_as(pg_url, name, password))
        with owner.connect() as raw:
            table = f"{quote_ident(schema)}.memori_memories"
            assert raw.execute(text(f"SELECT count(*) FROM {table}")).scalar() == 0, (
                "the table's owner, with no entity set, sees nothing")
        owner.dispose()
        with admin.connect() as conn:  # a superuser bypasses RLS: both rows are there
            assert conn.execute(text(
                f"SELECT count(*) FROM {quote_ident(schema)}.memori_memories")).scalar() == 2
        other = open_store(_as(pg_url, name, password), vector_dim=DIM, schema=schema)
        other.setup()
        assert Capability.ROW_LEVEL_SECURITY in other.capabilities, "RLS is detected"
        assert [m.id for m in other.list_memories(Scope("bob"))] == ["b1"]
        other.close()
    finally:
        s.close()


# query plans


def _nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from _nodes(child)


def _scans(explained: Any) -> list[dict[str, Any]]:
    root = explained[0]["Plan"]
    return [n for n in _nodes(root) if n.get("Relation Name") == "memori_memories"
            or "Index Name" in n]


ENTITIES, PER_ENTITY, BIG = 60, 200, 4000


@pytest.fixture(scope="module")
def loaded(pg_url: str, admin: Engine) -> Iterator[str]:
    """A schema with many small entities and one big one, analysed."""
    name = f"memori_plan_{uuid.uuid4().hex[:10]}"
    rng = __import__("random").Random(7)
    vocab = ["falcon", "nectar", "copper", "tundra", "violin", "quartz", "mango", "zebra"]
    with open_store(pg_url, vector_dim=DIM, schema=name) as s:
        s.setup()
        sizes = [(f"e{i}", PER_ENTITY) for i in range(ENTITIES)] + [("big", BIG)]
        for entity, n in sizes:
            s.put_memories([
                _mem(entity, " ".join(rng.choice(vocab) for _ in range(6)),
                     tuple(rng.uniform(-1, 1) for _ in range(DIM)),
                     process_id=None if k % 2 else "coach")
                for k in range(n)
            ])
    with admin.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(
            text(f"VACUUM ANALYZE {quote_ident(name)}.memori_memories"))
    yield name
    _drop_schema(admin, name)


@pytest.mark.parametrize("kwargs", [
    {"vector": _vec(1, 0.5, -0.2)}, {"text": "falcon nectar"},
    {"text": "falcon nectar", "vector": _vec(1, 0.5, -0.2)},
], ids=["vector", "text", "hybrid"])
def test_searches_read_the_scope_through_indexes_never_a_table_scan(
    pg_url: str, loaded: str, kwargs: dict[str, Any]
) -> None:
    with open_store(pg_url, vector_dim=DIM, schema=loaded) as s:
        explained = s.explain_search_memories(Scope("e7", "coach"), limit=10, **kwargs)
    scans = _scans(explained)
    assert scans, explained
    assert not [n for n in scans if n["Node Type"] == "Seq Scan"], (
        "a sequential scan reads other tenants' rows")
    assert [n for n in scans if "entity_id" in str(n.get("Index Cond", ""))], (
        "the scope predicate is an index condition")
    assert all(n["Actual Rows"] <= PER_ENTITY for n in scans), (
        "no scan reads other tenants' rows or index entries (the text index included)")


def test_hnsw_serves_a_big_entity_and_small_ones_stay_exact(pg_url: str, loaded: str) -> None:
    query = _vec(0.3, -1, 0.2, 0.9)
    with open_store(pg_url, vector_dim=DIM, schema=loaded, vector_index="hnsw",
                    hnsw_min_rows=1000, hnsw_ef_search=100) as s:
        s.setup()
        assert Capability.NATIVE_VECTOR_INDEX in s.capabilities
        big = _scans(s.explain_search_memories(Scope("big"), vector=query))
        assert [n["Index Name"] for n in big if n["Node Type"] == "Index Scan"] == [
            "memori_memories_hnsw_8"]
        assert "entity_id" in big[0].get("Filter", "")
        small = _scans(s.explain_search_memories(Scope("e3"), vector=query))
        assert "memori_memories_hnsw_8" not in {n.get("Index Name") for n in small}
        assert not [n for n in small if n["Node Type"] == "Seq Scan"]
        ann = [h.id for h in s.search_memories(Scope("big"), vector=query, limit=10)]
    with open_store(pg_url, vector_dim=DIM, schema=loaded) as exact:
        truth = [h.id for h in exact.search_memories(Scope("big"), vector=query, limit=10)]
    assert len(set(ann) & set(truth)) >= 8, "HNSW recall@10 of the big entity"


def test_a_graph_scan_that_comes_back_short_is_redone_exactly(
    pg_url: str, loaded: str
) -> None:
    query = _vec(-0.4, 0.1, 0.8)
    scope = Scope("e11", "coach")
    with open_store(pg_url, vector_dim=DIM, schema=loaded, vector_index="hnsw",
                    hnsw_min_rows=1, hnsw_ef_search=10) as s:
        got = [h.id for h in s.search_memories(scope, vector=query, limit=20)]
    with open_store(pg_url, vector_dim=DIM, schema=loaded) as exact:
        want = [h.id for h in exact.search_memories(scope, vector=query, limit=20)]
    assert got == want and len(got) == 20


# bulk writes


def test_bulk_writes_round_trip_through_copy(store: PostgresStore) -> None:
    e = f"bulk-{uuid.uuid4().hex}"
    written = [
        _mem(e, f"Ünïcödé 漢字 'q' \\ % {i}", _vec(i, 1) if i % 3 else None,
             process_id=None if i % 2 else "coach", shared=i % 5 == 0,
             metadata={"i": i, "nested": [None, {"x": "y"}]}, source_turn_ids=(f"t{i}",),
             updated_at=None if i % 4 else 1.5e9 + i, count=i + 1)
        for i in range(450)
    ]
    store.put_memories(written)
    got = {m.id: m for m in store.list_memories(Scope(e, "coach"), include_superseded=True)}
    assert len(got) == len(written)
    for m in written:
        assert_same_memory(got[m.id], m)
    turns = [Turn(e, "s1", "user", f"turn {i}", extract_state=(
        ExtractState.PENDING if i % 2 else ExtractState.DONE)) for i in range(300)]
    store.append_turns(turns)
    pending = {t.id for t in store.outbox_pending(10_000) if t.entity_id == e}
    assert pending == {t.id for t in turns if t.extract_state is ExtractState.PENDING}
    store.append_turns([replace(t, extract_state=ExtractState.DONE) for t in turns])
    assert not [t for t in store.outbox_pending(10_000) if t.entity_id == e]
    records = list(store.export(e))
    assert store.forget(e) == 750 and store.raw_count(e) == 0
    assert store.import_records(records) == 750
    assert_same_records(store.export(e), records)
    assert to_record(store.list_turns(Scope(e, None, "s1"))[0])["content"] == "turn 0"


def test_nul_in_text_is_a_value_error(store: PostgresStore) -> None:
    with pytest.raises(ValueError):
        store.put_memories([_mem("alice", "a\x00b")])


def test_two_schemas_share_one_database_apart(pg_url: str, admin: Engine) -> None:
    names = [f"memori_app_{uuid.uuid4().hex[:8]}" for _ in range(2)]
    try:
        stores = [open_store(pg_url, vector_dim=DIM, schema=n) for n in names]
        for s, n in zip(stores, names, strict=True):
            s.setup()
            s.put_memories([_mem("alice", f"lives in {n}")])
        for s, n in zip(stores, names, strict=True):
            assert [m.content for m in s.list_memories(Scope("alice"))] == [f"lives in {n}"]
            s.close()
    finally:
        for n in names:
            _drop_schema(admin, n)


# words


def test_words_are_the_contracts_words() -> None:
    sample = "foo_bar alice@example.com 3.14 Größe ÜBER e-mail ﬁne 漢字 x'y \\z"
    assert words(sample) == contract_words(sample)
    assert tsquery_text("NOT zebra'); --") == "'not' | 'zebra'"
    assert tsquery_text("%%% --") is None
    assert tsvector_text("b a b", "e") == f"'b':1,3 'a':2 '{entity_lexeme('e')}'"
    assert ":" in entity_lexeme("e") and words(entity_lexeme("e")) != [entity_lexeme("e")]


def test_libpq_parameters_in_the_url_reach_the_server(pg_url: str) -> None:
    url: URL = make_url(pg_url).update_query_dict({"application_name": "memori tests"})
    with open_store(url) as s:
        s.setup()
        assert s._engines.sync is not None
        with s._engines.sync.connect() as conn:
            assert conn.execute(text("SHOW application_name")).scalar() == "memori tests"


def test_text_search_weighs_rare_words_above_common_ones(store: PostgresStore) -> None:
    """BM25, as on SQLite: a row holding the query's rare word outranks rows holding its
    common word twice (``ts_rank`` alone ranked them the other way round)."""
    scope = Scope("bm25-user")
    common = [Memory(entity_id="bm25-user", content=f"Tea time and tea again, day {i}.")
              for i in range(30)]
    rare = Memory(entity_id="bm25-user", content="A quiet walk to the lighthouse.")
    other = Memory(entity_id="someone-else", content="lighthouse lighthouse lighthouse")
    store.put_memories([*common, rare, other])
    hits = store.search_memories(scope, text="tea lighthouse", limit=5)
    assert hits[0].item.id == rare.id
    assert all(h.item.entity_id == "bm25-user" for h in hits)
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert 0.0 < hits[-1].score <= hits[0].score < 1.0
    assert store.search_memories(scope, text="!!!", limit=5) == []


def test_the_time_a_query_names_ranks_alike_on_the_native_async_path(
    store: PostgresStore,
) -> None:
    """``aretrieve`` on a store with a native async driver runs its own searches and
    fusion: the time signal and its relevance rule apply there as on the sync path."""
    from datetime import datetime, timezone

    from memori.embedders import HashEmbedder
    from memori.retrieval import HybridRetriever

    def said(day: str) -> float:
        return datetime.fromisoformat(day).replace(tzinfo=timezone.utc).timestamp() + 3600

    embedder = HashEmbedder(dim=DIM)
    then = "Hiking with my sister today, up the ridge."
    later = "Hiking plans: hiking boots, hiking maps, where to go hiking next."
    store.append_turns([
        Turn("ana", session, "user", text, created_at=said(day),
             embedding=tuple(embedder.embed([text])[0]))
        for session, text, day in (("autumn", then, "2022-10-09"),
                                   ("spring", later, "2023-04-02"))])
    assert Capability.NATIVE_ASYNC in store.capabilities
    retriever = HybridRetriever(embedder=embedder)
    question = "Where did I go hiking on 9 October 2022?"
    found = asyncio.run(retriever.aretrieve(store, Scope("ana"), question))
    assert [h.content for h in found] == [then, later]
    assert [h.content for h in retriever.retrieve(store, Scope("ana"), question)] == [
        then, later]
    assert retriever.retrieve(store, Scope("ana"), "Where did I go hiking?")[0].content == later


def test_a_long_message_is_searched_by_its_ends_on_the_native_async_path(
    store: PostgresStore,
) -> None:
    """``aretrieve`` on PostgreSQL (native async) embeds and text-searches a long
    message's first and last words, as the sync path does: the same hits, and a word
    only in the middle of the message is searched by neither."""
    from memori.embedders import HashEmbedder
    from memori.retrieval import HybridRetriever
    from memori.retrieval.focus import focus

    class Recording(HashEmbedder):
        def __init__(self) -> None:
            super().__init__(dim=DIM)
            self.texts: list[str] = []

        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            self.texts.extend(texts)
            return super().embed(texts)

    embedder = Recording()
    facts = ["My sister Lena is allergic to peanuts.", "The canoe was repaired in May."]
    store.put_memories([Memory("ana", f, embedding=tuple(embedder.embed([f])[0]))
                        for f in facts])
    story = ("we drove to the lake with the whole family and the dog, stopped for coffee "
             "twice, argued about the music and found the cabin after dark")
    message = (f"Yesterday {story}. The old canoe leaks again. {story}. "
               "What is my sister allergic to?")
    assert "canoe" not in focus(message)
    retriever = HybridRetriever(embedder=embedder)
    embedder.texts.clear()
    found = asyncio.run(retriever.aretrieve(store, Scope("ana"), message, min_relevance=0.0))
    assert embedder.texts == [retriever.embedded(message)]
    assert "canoe" not in retriever.embedded(message)
    assert [h.content for h in found] == [
        h.content for h in retriever.retrieve(store, Scope("ana"), message, min_relevance=0.0)]
    assert found[0].content == facts[0]
    assert not any(h.content == facts[1] and h.signals.get("memory_text") for h in found)
