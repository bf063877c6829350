"""The SQLite backend on a real file: every protocol method, both vector paths, two processes."""

from __future__ import annotations

import json
import math
import random
import sqlite3
import struct
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from memori.backends.sql import migrate
from memori.backends.sqlite import versions
from memori.backends.sqlite.connection import extension_driver, sqlite_vec_module
from memori.backends.sqlite.fts import match_expression, query_tokens
from memori.backends.sqlite.store import SQLiteStore, open_store
from memori.core import (
    Capability,
    ConfigurationError,
    DimensionMismatchError,
    ExtractState,
    Memory,
    MemoryStore,
    Scope,
    StoreUnavailableError,
    Turn,
)

DIM = 4
HAS_VEC = extension_driver() is not None and sqlite_vec_module() is not None
PATHS = ["exact", pytest.param("sqlite-vec", marks=pytest.mark.skipif(
    not HAS_VEC, reason="no sqlite3 module here can load sqlite-vec"))]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


@pytest.fixture(params=PATHS)
def store(request: pytest.FixtureRequest, db_url: str) -> Iterator[SQLiteStore]:
    s = open_store(db_url, vector_dim=DIM, vector_search=request.param)
    s.setup()
    yield s
    s.close()


def turn(e: str, content: str, *, p: str | None = None, s: str = "s1", **kw: object) -> Turn:
    return Turn(entity_id=e, session_id=s, role="user", content=content, process_id=p, **kw)  # type: ignore[arg-type]


# setup and connections


def test_fresh_file_is_created_at_head_in_wal_mode(store: SQLiteStore) -> None:
    stats = store.admin_stats()
    assert stats["journal_mode"] == "wal"
    assert stats["revision"] == migrate.head()
    assert isinstance(store, MemoryStore)
    assert Capability.TEXT_SEARCH in store.capabilities
    assert Capability.NATIVE_TEXT_INDEX in store.capabilities
    assert Capability.ASYNC in store.capabilities
    assert Capability.NATIVE_ASYNC not in store.capabilities
    assert Capability.MULTI_PROCESS in store.capabilities
    assert Capability.NATIVE_VECTOR_INDEX not in store.capabilities


def test_vector_path_follows_the_option(store: SQLiteStore) -> None:
    assert store.vector_path == store.vector_search
    assert store.admin_stats()["vector_search"] == store.vector_search


def test_auto_uses_sqlite_vec_when_a_driver_can_load_it(db_url: str) -> None:
    with open_store(db_url, vector_dim=DIM) as s:
        s.setup()
        assert s.vector_path == ("sqlite-vec" if HAS_VEC else "exact")


def test_setup_is_idempotent(db_url: str) -> None:
    for _ in range(3):
        with open_store(db_url, vector_dim=DIM) as s:
            s.setup()
            s.setup()
            s.append_turns([turn("e", "hello")])
    with open_store(db_url) as s:
        assert s.count_turns(Scope("e")) == 3


def test_stdlib_connection_cannot_use_sqlite_vec_and_says_so(tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "c.db", check_same_thread=False)
    if hasattr(conn, "enable_load_extension"):
        pytest.skip("this stdlib sqlite3 can load extensions")
    s = open_store(conn, vector_dim=DIM, vector_search="sqlite-vec")
    with pytest.raises(ConfigurationError, match="sqlite-vec"):
        s.setup()
    s.close()
    s = open_store(conn, vector_dim=DIM)
    s.setup()
    assert s.vector_path == "exact"
    s.append_turns([turn("e", "over a caller's connection", embedding=(1.0, 0, 0, 0))])
    hits = s.search_turns(Scope("e", None, "s1"), vector=[1.0, 0, 0, 0])
    assert hits[0].score == pytest.approx(1.0)
    s.close()
    assert conn.execute("SELECT count(*) FROM memori_turns").fetchone() == (1,)  # still open
    conn.close()


def test_extension_capable_connection_gets_sqlite_vec(tmp_path: Path) -> None:
    driver = extension_driver()
    if driver is None or sqlite_vec_module() is None:
        pytest.skip("no sqlite3 module here can load sqlite-vec")
    conn = driver.connect(str(tmp_path / "v.db"), check_same_thread=False)
    with open_store(conn, vector_dim=DIM) as s:
        s.setup()
        assert s.vector_path == "sqlite-vec"
        assert Capability.MULTI_PROCESS in s.capabilities
        s.put_memories([Memory("e", "near", embedding=(1.0, 0, 0, 0)),
                        Memory("e", "far", embedding=(-1.0, 0, 0, 0))])
        hits = s.search_memories(Scope("e"), vector=[1.0, 0, 0, 0])
        assert [(h.content, round(h.score, 6)) for h in hits] == [("near", 1.0), ("far", 0.0)]
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_engine_target_is_left_open(db_url: str) -> None:
    engine = create_engine(db_url)
    with open_store(engine) as s:
        s.append_turns([turn("e", "via an engine")])
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM memori_turns").scalar_one() == 1
    engine.dispose()


def test_in_memory_store_is_shared_across_threads() -> None:
    with open_store("sqlite://", vector_dim=DIM) as s:
        assert Capability.MULTI_PROCESS not in s.capabilities
        def write(i: int) -> None:
            s.append_turns([turn("e", f"thread {i}")])
        threads = [threading.Thread(target=write, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert s.count_turns(Scope("e")) == 8


async def test_async_twins_run_off_the_loop() -> None:
    s = open_store("sqlite:///:memory:", vector_dim=DIM)
    await s.asetup()
    await s.aappend_turns([turn("e", "async turn")])
    await s.aput_memories([Memory("e", "async memory", embedding=(0, 1.0, 0, 0))])
    assert await s.acount_turns(Scope("e")) == 1
    hits = await s.asearch_memories(Scope("e"), text="memory")
    assert [h.content for h in hits] == ["async memory"]
    assert await s.aforget("e") == 2
    await s.aclose()


def test_closed_store_refuses_calls(db_url: str) -> None:
    s = open_store(db_url)
    s.setup()
    s.close()
    with pytest.raises(StoreUnavailableError):
        s.count_turns(Scope("e"))


def test_bad_options_are_configuration_errors(db_url: str) -> None:
    with pytest.raises(ConfigurationError):
        open_store(db_url, vector_search="faiss")
    with pytest.raises(ConfigurationError):
        open_store(db_url, colour="blue")
    with pytest.raises(ConfigurationError):
        open_store(db_url, vector_dim=0)


# turns


def test_turns_are_read_per_entity_persona_and_session(store: SQLiteStore) -> None:
    store.append_turns([
        turn("e", "a1", p="coach", s="s1"), turn("e", "a2", p="coach", s="s1"),
        turn("e", "b1", p="coach", s="s2"), turn("e", "c1", p=None, s="s1"),
        turn("E", "other entity", p="coach", s="s1"),
    ])
    assert [t.content for t in store.list_turns(Scope("e", "coach", "s1"))] == ["a1", "a2"]
    assert [t.content for t in store.list_turns(Scope("e", "coach"))] == ["a1", "a2", "b1"]
    assert [t.content for t in store.list_turns(Scope("e", None, "s1"))] == ["c1"]
    assert [t.content for t in store.list_turns(Scope("e", "coach"), limit=2)] == ["a2", "b1"]
    assert store.list_turns(Scope("e", "coach"), limit=0) == []
    assert store.count_turns(Scope("E", "coach")) == 1


def test_append_is_idempotent_per_turn_id(store: SQLiteStore) -> None:
    t = turn("e", "once")
    store.append_turns([t, t])
    store.append_turns([t])
    assert store.count_turns(Scope("e")) == 1
    assert [x.id for x in store.outbox_pending()] == [t.id]


def test_delete_turns_stays_inside_the_scope(store: SQLiteStore) -> None:
    mine, other = turn("e", "mine", p="p"), turn("x", "theirs", p="p")
    store.append_turns([mine, other, turn("e", "kept", p="p", s="s2")])
    assert store.delete_turns(Scope("e", "p", "s1"), [other.id]) == 0
    assert store.delete_turns(Scope("e", "p", "s1"), []) == 0
    assert store.delete_turns(Scope("e", "p", "s1")) == 1
    assert [t.content for t in store.list_turns(Scope("e", "p"))] == ["kept"]
    assert store.count_turns(Scope("x", "p")) == 1
    assert {t.entity_id for t in store.outbox_pending()} == {"e", "x"}


def test_turn_fields_round_trip(store: SQLiteStore) -> None:
    t = turn("e", "tool call", metadata={"tool_calls": [{"id": "c1"}], "name": "bob"},
             embedding=(0.5, -0.25, 0.125, 1.0))
    store.append_turns([t])
    (back,) = store.list_turns(Scope("e", None, "s1"))
    assert back == t
    assert back.embedding == (0.5, -0.25, 0.125, 1.0)


# memories


def test_memory_visibility(store: SQLiteStore) -> None:
    coach = Memory("e", "coach only", process_id="coach")
    planner = Memory("e", "planner only", process_id="planner")
    everyone = Memory("e", "no persona")
    shared = Memory("e", "shared by planner", process_id="planner", shared=True)
    old = Memory("e", "old goal", process_id="coach", superseded_by=coach.id)
    foreign = Memory("x", "other entity")
    store.put_memories([coach, planner, everyone, shared, old, foreign])
    seen = {m.content for m in store.list_memories(Scope("e", "coach"))}
    assert seen == {"coach only", "no persona", "shared by planner"}
    assert {m.content for m in store.list_memories(Scope("e"))} == {"no persona",
                                                                    "shared by planner"}
    assert store.count_memories(Scope("e", "coach"), include_superseded=True) == 4
    assert store.get_memory(Scope("e", "planner"), coach.id) is None
    assert store.get_memory(Scope("x", "coach"), coach.id) is None
    assert store.get_memory(Scope("e", "coach"), old.id) == old


def test_list_memories_pages_oldest_first(store: SQLiteStore) -> None:
    ms = [Memory("e", f"m{i}", created_at=1000.0 + i) for i in range(5)]
    store.put_memories(list(reversed(ms)))
    assert [m.content for m in store.list_memories(Scope("e"), limit=2, offset=1)] == ["m1", "m2"]
    assert [m.content for m in store.list_memories(Scope("e"), offset=3)] == ["m3", "m4"]


def test_put_replaces_and_reindexes_text(store: SQLiteStore) -> None:
    m = Memory("e", "likes oranges")
    store.put_memories([m])
    store.put_memories([Memory("e", "likes bananas", id=m.id, count=2)])
    assert store.count_memories(Scope("e")) == 1
    assert store.search_memories(Scope("e"), text="oranges") == []
    (hit,) = store.search_memories(Scope("e"), text="bananas")
    assert hit.item.id == m.id and hit.item.count == 2  # type: ignore[union-attr]


def test_update_memory_only_when_visible(store: SQLiteStore) -> None:
    m = Memory("e", "runs 5K", process_id="coach")
    store.put_memories([m])
    assert not store.update_memory(Scope("e", "planner"), m.id, {"content": "hacked"})
    assert not store.update_memory(Scope("x", "coach"), m.id, {"content": "hacked"})
    assert store.update_memory(Scope("e", "coach"), m.id, {
        "content": "runs 10K", "count": 3, "metadata": {"k": 1}, "embedding": [0, 0, 1.0, 0],
        "source_turn_ids": ["t1"], "shared": True})
    back = store.get_memory(Scope("e", "planner"), m.id)
    assert back is not None and back.content == "runs 10K" and back.shared
    assert back.count == 3 and back.metadata == {"k": 1} and back.source_turn_ids == ("t1",)
    assert back.embedding == (0.0, 0.0, 1.0, 0.0)
    assert [h.item.id for h in store.search_memories(Scope("e"), text="10K")] == [m.id]
    with pytest.raises(ValueError):
        store.update_memory(Scope("e", "coach"), m.id, {"entity_id": "x"})
    with pytest.raises(DimensionMismatchError):
        store.update_memory(Scope("e", "coach"), m.id, {"embedding": [1.0]})


def test_delete_memories_only_visible_ones(store: SQLiteStore) -> None:
    a, b = Memory("e", "a", process_id="coach"), Memory("x", "b")
    store.put_memories([a, b])
    assert store.delete_memories(Scope("e", "planner"), [a.id, b.id]) == 0
    assert store.delete_memories(Scope("e", "coach"), [a.id, b.id]) == 1
    assert store.count_memories(Scope("x")) == 1


def test_non_json_metadata_is_a_value_error(store: SQLiteStore) -> None:
    with pytest.raises(ValueError):
        store.put_memories([Memory("e", "x", metadata={"bad": object()})])


# text search


def test_query_tokens_are_quoted_words() -> None:
    assert query_tokens('Hello, "world" OR NEAR(x*) foo_bar HELLO') == [
        "hello", "world", "or", "near", "x", "foo_bar"]
    assert match_expression("e", "?!") is None
    expr = match_expression("e", 'a"b')
    assert expr == 'entity_key : "e65" AND content : ("a" OR "b")'


@pytest.mark.parametrize("query", [
    '"', "'", "*", "NEAR(a b)", "a OR", "AND", "-x", "x:y", "{content}: x", "^start",
    "'; DROP TABLE memori_memories; --", "\x01\u2028", "a" * 5000, "5K run " * 200,
])
def test_any_query_is_safe(store: SQLiteStore, query: str) -> None:
    store.put_memories([Memory("e", "start running a 5K: run run")])
    hits = store.search_memories(Scope("e"), text=query)
    assert all(0.0 <= h.score <= 1.0 for h in hits)
    assert store.count_memories(Scope("e")) == 1


def test_query_without_words_returns_nothing(store: SQLiteStore) -> None:
    store.put_memories([Memory("e", "anything")])
    assert store.search_memories(Scope("e"), text="  ?! ") == []
    assert store.search_memories(Scope("e"), text="") == []


def test_text_search_ranks_and_folds_case_only(store: SQLiteStore) -> None:
    store.put_memories([
        Memory("e", "Café near the office, coffee coffee coffee"),
        Memory("e", "coffee once"),
        Memory("e", "tea only"),
    ] + [Memory("e", f"filler text number {i}") for i in range(20)])
    assert store.search_memories(Scope("e"), text="cafe") == []  # words keep their accents
    hits = store.search_memories(Scope("e"), text="COFFEE CAFÉ")
    assert [h.content for h in hits] == ["Café near the office, coffee coffee coffee",
                                         "coffee once"]
    assert hits[0].score > hits[1].score > 0.0
    assert all(0.0 <= h.score <= 1.0 and set(h.signals) == {"text"} for h in hits)


def test_text_search_never_crosses_entities_or_personas(store: SQLiteStore) -> None:
    store.put_memories([
        Memory("e", "secret plan", process_id="coach"),
        Memory("e%", "secret plan of a LIKE-looking id"),
        Memory("E", "secret plan of another case"),
        Memory("e", "secret shared plan", process_id="coach", shared=True),
    ])
    assert [h.content for h in store.search_memories(Scope("e", "planner"), text="secret")] == [
        "secret shared plan"]
    contents = {h.content for h in store.search_memories(Scope("e", "coach"), text="secret")}
    assert contents == {"secret plan", "secret shared plan"}
    store.append_turns([turn("e", "secret turn", p="coach"), turn("e", "secret turn", p=None)])
    hits = store.search_turns(Scope("e", "coach", "s1"), text="secret")
    assert [(h.item.process_id, h.kind) for h in hits] == [("coach", "turn")]


def test_superseded_memories_are_left_out_of_search(store: SQLiteStore) -> None:
    new = Memory("e", "marathon goal")
    store.put_memories([new, Memory("e", "old marathon goal", superseded_by=new.id)])
    assert [h.content for h in store.search_memories(Scope("e"), text="marathon")] == [
        "marathon goal"]
    assert len(store.search_memories(Scope("e"), text="marathon", include_superseded=True)) == 2


# vector search


def test_vector_search_scores_cosine(store: SQLiteStore) -> None:
    store.put_memories([
        Memory("e", "same", embedding=(1.0, 0, 0, 0)),
        Memory("e", "orthogonal", embedding=(0, 1.0, 0, 0)),
        Memory("e", "opposite", embedding=(-1.0, 0, 0, 0)),
        Memory("e", "zero", embedding=(0, 0, 0, 0)),
        Memory("e", "no vector"),
        Memory("x", "other entity", embedding=(1.0, 0, 0, 0)),
    ])
    hits = store.search_memories(Scope("e"), vector=[2.0, 0, 0, 0], limit=10)
    got = [(h.content, round(h.score, 6)) for h in hits]
    assert got[0] == ("same", 1.0)
    assert sorted(got[1:3]) == [("orthogonal", 0.5), ("zero", 0.5)]
    assert got[3] == ("opposite", 0.0)
    assert len(got) == 4
    assert all(set(h.signals) == {"vector"} for h in hits)


def test_vector_paths_agree(db_url: str) -> None:
    if not HAS_VEC:
        pytest.skip("sqlite-vec cannot be loaded here")
    import random

    rng = random.Random(7)
    with open_store(db_url, vector_dim=DIM, vector_search="exact") as exact:
        exact.put_memories([
            Memory("e", f"m{i}", process_id=rng.choice(["a", "b", None]),
                   embedding=tuple(rng.uniform(-1, 1) for _ in range(DIM)))
            for i in range(300)
        ])
        q = [rng.uniform(-1, 1) for _ in range(DIM)]
        a = exact.search_memories(Scope("e", "a"), vector=q, limit=20)
        with open_store(db_url, vector_dim=DIM, vector_search="sqlite-vec") as vec:
            b = vec.search_memories(Scope("e", "a"), vector=q, limit=20)
    assert [h.id for h in a] == [h.id for h in b]
    for x, y in zip(a, b, strict=True):
        assert math.isclose(x.score, y.score, abs_tol=1e-6)


def test_vectors_are_checked(store: SQLiteStore) -> None:
    with pytest.raises(DimensionMismatchError):
        store.put_memories([Memory("e", "x", embedding=(1.0, 2.0))])
    with pytest.raises(DimensionMismatchError):
        store.search_memories(Scope("e"), vector=[1.0, 0, 0])
    with pytest.raises(ValueError):
        store.search_memories(Scope("e"), vector=[math.nan, 0, 0, 0])


def test_store_without_dimension_stores_no_vectors(db_url: str) -> None:
    with open_store(db_url) as s:
        assert Capability.VECTOR_SEARCH not in s.capabilities
        s.put_memories([Memory("e", "plain", embedding=(1.0, 0, 0, 0))])
        (m,) = s.list_memories(Scope("e"))
        assert m.embedding is None
        with pytest.raises(DimensionMismatchError):
            s.search_memories(Scope("e"), vector=[1.0, 0, 0, 0])


def test_rows_of_another_dimension_are_ignored(db_url: str) -> None:
    with open_store(db_url, vector_dim=2) as small:
        small.put_memories([Memory("e", "two dims", embedding=(1.0, 0.0))])
    with open_store(db_url, vector_dim=DIM) as s:
        s.put_memories([Memory("e", "four dims", embedding=(1.0, 0, 0, 0))])
        assert [h.content for h in s.search_memories(Scope("e"), vector=[1.0, 0, 0, 0])] == [
            "four dims"]


def test_hybrid_search_fuses_text_and_vectors(store: SQLiteStore) -> None:
    both = Memory("e", "running shoes for running", embedding=(1.0, 0, 0, 0))
    text_only = Memory("e", "running late", embedding=(0, 1.0, 0, 0))
    vec_only = Memory("e", "sneakers", embedding=(0.9, 0.1, 0, 0))
    store.put_memories([both, text_only, vec_only])
    hits = store.search_memories(Scope("e"), text="running", vector=[1.0, 0, 0, 0], limit=3)
    assert hits[0].id == both.id and hits[0].score == pytest.approx(1.0)
    assert set(hits[0].signals) == {"text", "vector"}
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(0.0 <= h.score <= 1.0 for h in hits)


def test_turn_vector_search(store: SQLiteStore) -> None:
    store.append_turns([turn("e", "a", embedding=(1.0, 0, 0, 0)),
                        turn("e", "b", embedding=(0, 1.0, 0, 0))])
    assert [h.content for h in store.search_turns(Scope("e", None, "s1"),
                                                  vector=[0, 1.0, 0, 0], limit=1)] == ["b"]


# whole entity


ODD_IDS = ["a%", "_", "' OR 1=1 --", "$ne", ".*", "Ünïcødé", "e" * 255, "😀" * 255, "a b"]


@pytest.mark.parametrize("entity", ODD_IDS)
def test_forget_leaves_no_trace(store: SQLiteStore, entity: str) -> None:
    keep = "a"
    store.append_turns([turn(entity, "to forget", p="p", embedding=(1.0, 0, 0, 0)),
                        turn(keep, "to keep", p="p")])
    store.put_memories([Memory(entity, "forget me too", process_id="p"),
                        Memory(keep, "forget me too")])
    assert [h.content for h in store.search_memories(Scope(entity, "p"), text="forget")] == [
        "forget me too"]
    # turn, memory, their two FTS rows, the outbox row, and for turns and memories each
    # a version row and a change-log row
    assert store.raw_count(entity) == 9
    assert store.forget(entity) == 2
    assert store.raw_count(entity) == 0
    assert store.raw_count(keep) == 9
    assert store.search_memories(Scope(entity, "p"), text="forget") == []


def test_export_import_round_trip(store: SQLiteStore, tmp_path: Path) -> None:
    turns = [turn("e", f"t{i}", p="p", metadata={"i": i}, embedding=(float(i), 1.0, 0, 0))
             for i in range(3)]
    memories = [Memory("e", f"m{i}", process_id="p", source_turn_ids=(turns[i].id,),
                       embedding=(0, 0, float(i), 1.0)) for i in range(3)]
    store.append_turns(turns)
    store.put_memories(memories)
    store.outbox_mark("e", [turns[0].id], ExtractState.DONE)
    store.append_turns([turn("x", "other")])
    records = list(store.export("e"))
    assert [r["type"] for r in records] == ["turn"] * 3 + ["memory"] * 3
    with open_store(f"sqlite:///{tmp_path / 'copy.db'}", vector_dim=DIM) as copy:
        assert copy.import_records(records) == 6
        assert copy.import_records(records) == 6  # idempotent
        assert copy.list_turns(Scope("e", "p")) == store.list_turns(Scope("e", "p"))
        assert copy.list_memories(Scope("e", "p")) == store.list_memories(Scope("e", "p"))
        assert [t.embedding for t in copy.list_turns(Scope("e", "p"))] == [
            t.embedding for t in turns]
        assert {t.id for t in copy.outbox_pending()} == {turns[1].id, turns[2].id}
        assert copy.raw_count("e") == store.raw_count("e")
    assert {r["entity_id"] for r in store.admin_export_all()} == {"e", "x"}


def test_export_pages_through_many_rows(store: SQLiteStore) -> None:
    store.append_turns([turn("e", f"t{i}", created_at=1000.0) for i in range(1234)])
    contents = [r["content"] for r in store.export("e")]
    assert len(contents) == 1234 and len(set(contents)) == 1234


# outbox


def test_outbox_marks_and_keeps_state_on_turns(store: SQLiteStore) -> None:
    a, b, c = turn("e", "a"), turn("x", "b"), turn("e", "c", extract_state=ExtractState.DONE)
    store.append_turns([a, b, c])
    assert [t.id for t in store.outbox_pending()] == [a.id, b.id]
    assert [t.id for t in store.outbox_pending(limit=1)] == [a.id]
    store.outbox_mark("e", [a.id, b.id], ExtractState.PARKED, attempts=3, error="model down")
    assert [t.id for t in store.outbox_pending()] == [b.id]  # b is not e's: untouched
    (back,) = [t for t in store.list_turns(Scope("e", None, "s1")) if t.id == a.id]
    assert (back.extract_state, back.extract_attempts, back.extract_error) == (
        ExtractState.PARKED, 3, "model down")
    store.outbox_mark("e", [a.id], ExtractState.PENDING)
    assert [t.id for t in store.outbox_pending()] == [a.id, b.id]
    (back,) = [t for t in store.list_turns(Scope("e", None, "s1")) if t.id == a.id]
    assert (back.extract_attempts, back.extract_error) == (3, "model down")  # None keeps them
    store.outbox_mark("x", [b.id], ExtractState.DONE)
    store.outbox_mark("e", [a.id], ExtractState.SKIPPED)
    assert store.outbox_pending() == []
    assert store.admin_stats()["outbox_pending"] == 0


# several processes on one file

WRITER = textwrap.dedent("""
    import sys
    from memori.backends.sqlite.store import open_store
    from memori.core import Memory, Scope, Turn
    url, name, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    store = open_store(url, vector_dim=4)
    store.setup()
    for r in range(rounds):
        store.append_turns([Turn(name, "s", "user", f"{name} {r} {i}", embedding=(1.0, r, i, 0))
                            for i in range(20)])
        store.put_memories([Memory(name, f"{name} memory {r}")])
        store.count_turns(Scope(name))
    store.close()
""")


def test_two_processes_set_up_and_write_one_new_file_and_lose_nothing(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    procs = [subprocess.Popen([sys.executable, str(script), url, name, "150"],
                              stderr=subprocess.PIPE) for name in ("p1", "p2")]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err.decode()
    with open_store(url, vector_dim=DIM) as s:
        for name in ("p1", "p2"):
            assert s.count_turns(Scope(name)) == 150 * 20
            assert s.count_memories(Scope(name)) == 150
            assert len(s.search_turns(Scope(name, None, "s"), text=name, limit=5000)) == 3000
        assert s.admin_stats()["outbox_pending"] == 2 * 150 * 20


# the in-process vector cache (searches answered from numpy arrays, kept current by versions)

PERSONAS = ["coach", "planner", "Coach", None]
SESSIONS = ["s1", "s2", "S1"]


def _random_vector(rng: random.Random) -> tuple[float, ...]:
    choice = rng.random()
    if choice < 0.05:
        return (0.0,) * DIM  # zero vectors score 0.5, like the SQL paths
    if choice < 0.25:
        return (1.0, 0.0, rng.choice([0.0, 1.0]), 0.0)  # exact ties
    return tuple(float(rng.randint(-3, 3)) for _ in range(DIM))


def _random_data(rng: random.Random, entity: str, n: int) -> tuple[list[Memory], list[Turn]]:
    base = 1_700_000_000.0
    memories = [
        Memory(entity, f"m{i}", process_id=rng.choice(PERSONAS), shared=rng.random() < 0.2,
               superseded_by=f"newer-{i}" if rng.random() < 0.15 else None,
               created_at=base + rng.randint(0, n // 4),  # many equal ages: ties go by id
               embedding=None if rng.random() < 0.1 else _random_vector(rng))
        for i in range(n)
    ]
    turns = [
        turn(entity, f"t{i}", p=rng.choice(PERSONAS), s=rng.choice(SESSIONS),
             created_at=base + rng.randint(0, n // 4),
             embedding=None if rng.random() < 0.1 else _random_vector(rng))
        for i in range(n)
    ]
    return memories, turns


def _all_searches(s: SQLiteStore, entity: str, rng: random.Random) -> list[list[tuple[str, float]]]:
    """Every scope shape, vector and hybrid, memories and turns, as (id, score) lists."""
    out = []
    for q in ([1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0],
              [float(rng.randint(-3, 3)) for _ in range(DIM)]):
        for p in [*PERSONAS, "unknown"]:
            for history in (False, True):
                for limit in (1, 5, 500):
                    hits = s.search_memories(Scope(entity, p), vector=q, limit=limit,
                                             include_superseded=history)
                    out.append([(h.id, h.score) for h in hits])
            hits = s.search_memories(Scope(entity, p), text="m1", vector=q, limit=7)
            out.append([(h.id, h.score) for h in hits])
            for session in [None, *SESSIONS, "unknown"]:
                hits = s.search_turns(Scope(entity, p, session), vector=q, limit=8)
                out.append([(h.id, h.score) for h in hits])
    return out


def _assert_same_results(
    got: list[list[tuple[str, float]]], want: list[list[tuple[str, float]]]
) -> None:
    """Same ids in the same order with the same scores, to the last bit (ties included)."""
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g == w


@pytest.fixture
def cached_and_plain(db_url: str) -> Iterator[tuple[SQLiteStore, SQLiteStore]]:
    """Two stores on one file: one answering vector searches from its cache, one without."""
    cached = open_store(db_url, vector_dim=DIM, vector_search="exact")
    plain = open_store(db_url, vector_dim=DIM, vector_search="exact", vector_cache_items=0)
    cached.setup()
    plain.setup()
    yield cached, plain
    cached.close()
    plain.close()


def _cache_builds(s: SQLiteStore) -> int:
    """Sets built by a scan (a set brought forward from the change log is not rebuilt)."""
    stats = s.admin_stats()["vector_cache"]
    assert stats is not None
    return int(stats["builds"])


def _cache_catch_ups(s: SQLiteStore) -> int:
    stats = s.admin_stats()["vector_cache"]
    assert stats is not None
    return int(stats["catch_ups"])


def test_cache_ranks_exactly_like_the_sql_path(
    cached_and_plain: tuple[SQLiteStore, SQLiteStore],
) -> None:
    cached, plain = cached_and_plain
    rng = random.Random(11)
    memories, turns = _random_data(rng, "e", 400)
    other_m, other_t = _random_data(rng, "e%", 100)
    cached.put_memories(memories + other_m)
    cached.append_turns(turns + other_t)
    got = _all_searches(cached, "e", random.Random(5))
    want = _all_searches(plain, "e", random.Random(5))
    _assert_same_results(got, want)
    assert _cache_builds(cached) == 2  # one scan per kind, then every search from memory
    assert plain.admin_stats()["vector_cache"] is None


def test_cache_catches_up_with_writes_without_rescanning(
    cached_and_plain: tuple[SQLiteStore, SQLiteStore],
) -> None:
    """Writes by this store or the other one are read back from the change log."""
    cached, plain = cached_and_plain
    rng = random.Random(3)
    memories, turns = _random_data(rng, "e", 300)
    cached.put_memories(memories)
    cached.append_turns(turns)
    _all_searches(cached, "e", random.Random(1))
    builds, catch_ups = _cache_builds(cached), _cache_catch_ups(cached)
    more_m, more_t = _random_data(rng, "e", 100)  # appended: out of the grouped order
    writes = [
        lambda: cached.put_memories(more_m),
        lambda: plain.append_turns(more_t),
        *[lambda m=m: (cached if rng.random() < 0.5 else plain).update_memory(
            Scope("e", m.process_id), m.id, rng.choice([
                {"embedding": _random_vector(rng)}, {"embedding": None},
                {"shared": not m.shared}, {"superseded_by": "x"}, {"superseded_by": None},
                {"count": 5}, {"content": "m1 again"},
            ])) for m in rng.sample(memories, 60)],
        lambda: cached.put_memories([
            Memory("e", "replaced", id=m.id, process_id=rng.choice(PERSONAS),
                   created_at=m.created_at, embedding=_random_vector(rng))
            for m in rng.sample(memories, 40)]),
        lambda: plain.delete_memories(Scope("e", "coach"), [m.id for m in memories[:100]]),
        lambda: cached.delete_turns(Scope("e", "planner", "s2")),
        lambda: plain.delete_turns(Scope("e", "coach"), [t.id for t in turns[:50]]),
        lambda: cached.import_records([{
            "type": "memory", "entity_id": "e", "id": "imported", "content": "from an export",
            "created_at": 1.0, "embedding": [1.0, 0.0, 0.0, 0.0]}]),
        lambda: cached.outbox_mark("e", [t.id for t in turns[50:80]], ExtractState.DONE),
    ]
    for i, write in enumerate(writes):
        write()
        if i % 7 == 0 or i == len(writes) - 1:
            _assert_same_results(_all_searches(cached, "e", random.Random(i)),
                                 _all_searches(plain, "e", random.Random(i)))
    assert _cache_builds(cached) == builds, "writes must not force a rescan"
    assert _cache_catch_ups(cached) > catch_ups


def test_another_connection_s_write_is_seen(
    cached_and_plain: tuple[SQLiteStore, SQLiteStore],
) -> None:
    cached, other = cached_and_plain
    cached.put_memories([Memory("e", "old", embedding=(0, 1.0, 0, 0))])
    cached.append_turns([turn("e", "old", embedding=(0, 1.0, 0, 0))])
    assert [h.content for h in cached.search_memories(Scope("e"), vector=[1.0, 0, 0, 0])] == [
        "old"]
    assert len(cached.search_turns(Scope("e", None, "s1"), vector=[1.0, 0, 0, 0])) == 1
    builds, catch_ups = _cache_builds(cached), _cache_catch_ups(cached)
    new = Memory("e", "new", embedding=(1.0, 0, 0, 0))
    other.put_memories([new])
    hits = cached.search_memories(Scope("e"), vector=[1.0, 0, 0, 0])
    assert [h.content for h in hits] == ["new", "old"]
    assert _cache_catch_ups(cached) == catch_ups + 1  # the memories; turns did not change
    assert len(cached.search_turns(Scope("e", None, "s1"), vector=[1.0, 0, 0, 0])) == 1
    assert (_cache_builds(cached), _cache_catch_ups(cached)) == (builds, catch_ups + 1)
    other.update_memory(Scope("e"), new.id, {"superseded_by": "newer"})
    assert [h.content for h in cached.search_memories(Scope("e"), vector=[1.0, 0, 0, 0])] == [
        "old"]
    other.forget("e")
    assert cached.search_memories(Scope("e"), vector=[1.0, 0, 0, 0]) == []
    assert cached.search_turns(Scope("e", None, "s1"), vector=[1.0, 0, 0, 0]) == []
    other.put_memories([Memory("e", "after forget", embedding=(1.0, 0, 0, 0))])
    assert [h.content for h in cached.search_memories(Scope("e"), vector=[1.0, 0, 0, 0])] == [
        "after forget"]


def test_a_cache_far_behind_rescans_and_the_log_stays_bounded(
    cached_and_plain: tuple[SQLiteStore, SQLiteStore],
) -> None:
    cached, other = cached_and_plain
    cached.put_memories([Memory("e", "first", embedding=(0, 1.0, 0, 0))])
    assert len(cached.search_memories(Scope("e"), vector=[1.0, 0, 0, 0])) == 1
    builds = _cache_builds(cached)
    many = [Memory("e", f"m{i}", embedding=(1.0, i / 5000, 0, 0)) for i in range(5000)]
    other.put_memories(many)  # more changes than the log keeps
    hits = cached.search_memories(Scope("e"), vector=[1.0, 0, 0, 0], limit=2)
    assert [h.content for h in hits] == ["m0", "m1"]
    assert _cache_builds(cached) == builds + 1
    with other.engine.connect() as conn:
        logged = conn.exec_driver_sql(
            "SELECT count(*) FROM memori_entity_changes WHERE entity_id = 'e'").scalar_one()
    assert logged == versions.CHANGE_LOG_KEEP


def test_raw_sql_writes_are_seen_too(db_url: str) -> None:
    """The versions are kept by triggers, so any writer on the file counts, not just memori."""
    with open_store(db_url, vector_dim=DIM) as s:
        m = Memory("e", "shared later", process_id="planner", embedding=(1.0, 0, 0, 0))
        s.put_memories([m])
        assert s.search_memories(Scope("e", "coach"), vector=[1.0, 0, 0, 0]) == []
        conn = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        with conn:
            conn.execute("UPDATE memori_memories SET shared = 1 WHERE id = ?", (m.id,))
        conn.close()
        assert [h.id for h in s.search_memories(Scope("e", "coach"), vector=[1, 0, 0, 0])] == [
            m.id]


def test_cache_bound_evicts_and_oversized_sets_fall_back(db_url: str) -> None:
    with open_store(db_url, vector_dim=DIM, vector_cache_items=100) as s:
        for e in ("a", "b", "c"):
            s.put_memories([Memory(e, f"{e}{i}", embedding=(1.0, i, 0, 0)) for i in range(40)])
        s.put_memories([Memory("big", f"big{i}", embedding=(1.0, i, 0, 0)) for i in range(60)])
        for e in ("a", "b", "c"):
            assert len(s.search_memories(Scope(e), vector=[1.0, 0, 0, 0], limit=50)) == 40
        stats = s.admin_stats()["vector_cache"]
        assert stats["items"] <= 100 and stats["sets"] == 2  # "a" was evicted
        hits = s.search_memories(Scope("big"), vector=[0, 1.0, 0, 0], limit=3)
        assert [h.content for h in hits] == ["big59", "big58", "big57"]  # SQL path answers
        assert s.admin_stats()["vector_cache"]["sets"] == 2
        builds = _cache_builds(s)
        s.put_memories([Memory("big", "big60", embedding=(1.0, 60, 0, 0))])
        hits = s.search_memories(Scope("big"), vector=[0, 1.0, 0, 0], limit=1)
        assert [h.content for h in hits] == ["big60"]
        assert _cache_builds(s) == builds, "known too big, it grew: no scan to find that out"
        assert len(s.search_memories(Scope("a"), vector=[1.0, 0, 0, 0], limit=50)) == 40


def test_cache_option_is_checked(db_url: str) -> None:
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(ConfigurationError, match="vector_cache_items"):
            open_store(db_url, vector_dim=DIM, vector_cache_items=bad)
    with open_store(db_url, vector_dim=DIM, vector_cache_items=0) as s:
        assert s.admin_stats()["vector_cache"] is None
    with open_store(db_url, vector_dim=1536) as s:
        assert s.admin_stats()["vector_cache"]["max_items"] == 512 * 1024 * 1024 // (1536 * 4)
    with open_store(db_url, vector_dim=DIM) as s:
        assert s.admin_stats()["vector_cache"]["max_items"] == 200_000


def test_many_interleaved_appends_keep_results_exact(
    cached_and_plain: tuple[SQLiteStore, SQLiteStore],
) -> None:
    """Appends from alternating personas split a scope into many runs; still exact."""
    cached, plain = cached_and_plain
    rng = random.Random(8)
    cached.append_turns([turn("e", f"seed {i}", p=PERSONAS[i % 4], embedding=_random_vector(rng))
                         for i in range(50)])
    q = [1.0, 0.5, 0.0, 0.0]
    cached.search_turns(Scope("e", "coach"), vector=q)
    for i in range(400):
        cached.append_turns([turn("e", f"t{i}", p=PERSONAS[i % 4], s=SESSIONS[i % 3],
                                  embedding=_random_vector(rng))])
        if i % 37 == 0:
            assert [h.id for h in cached.search_turns(Scope("e", "coach"), vector=q, limit=20)] \
                == [h.id for h in plain.search_turns(Scope("e", "coach"), vector=q, limit=20)]
    for p in PERSONAS:
        for sess in (None, "s2"):
            got = cached.search_turns(Scope("e", p, sess), vector=q, limit=30)
            want = plain.search_turns(Scope("e", p, sess), vector=q, limit=30)
            assert [h.id for h in got] == [h.id for h in want]


def test_migration_keeps_versions_for_existing_rows(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        migrate.upgrade(conn, "0003")
        conn.exec_driver_sql(
            "INSERT INTO memori_memories (entity_id, id, process_id, shared, kind, content, "
            "session_id, created_at, count, source_turn_ids, metadata, embedding) VALUES "
            "('e', 'm1', NULL, 0, 'fact', 'before 0004', NULL, 1.0, 1, '[]', '{}', ?)",
            (struct.pack("<4f", 1.0, 0, 0, 0),),
        )
    with open_store(url, vector_dim=DIM, migrate=True) as s:
        s.setup()
        assert s.raw_count("e") == 3  # the memory, its FTS row, its version
        assert [h.id for h in s.search_memories(Scope("e"), vector=[1.0, 0, 0, 0])] == ["m1"]
    with engine.begin() as conn:
        migrate.downgrade(conn, "0003")
        names = {r[0] for r in conn.exec_driver_sql("SELECT name FROM sqlite_master")}
    assert "memori_entity_versions" not in names
    assert not {n for n in names if n.endswith(("_version_ai", "_version_ad", "_version_au"))}
    engine.dispose()


# several processes: A caches, B writes, A sees it

MUTATOR = textwrap.dedent("""
    import json, sys
    from memori.backends.sqlite.store import open_store
    from memori.core import Memory, Scope, Turn
    store = open_store(sys.argv[1], vector_dim=4, vector_cache_items=0)
    store.setup()
    for line in sys.stdin:
        op = json.loads(line)
        e = op["entity"]
        if op["op"] == "put":
            store.put_memories([Memory(e, op["content"], id=op["id"], process_id=op["p"],
                                       embedding=tuple(op["v"]))])
        elif op["op"] == "turn":
            store.append_turns([Turn(e, "s1", "user", op["content"], process_id=op["p"],
                                     embedding=tuple(op["v"]))])
        elif op["op"] == "update":
            store.update_memory(Scope(e, op["p"]), op["id"], op["changes"])
        elif op["op"] == "delete":
            store.delete_memories(Scope(e, op["p"]), [op["id"]])
        elif op["op"] == "forget":
            store.forget(e)
        print("ok", flush=True)
    store.close()
""")


def test_a_cache_sees_another_process_s_writes(tmp_path: Path, db_url: str) -> None:
    script = tmp_path / "mutator.py"
    script.write_text(MUTATOR)
    proc = subprocess.Popen([sys.executable, str(script), db_url], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def other(**op: object) -> None:
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(json.dumps({"entity": "e", "p": "coach", **op}) + "\n")
        proc.stdin.flush()
        assert proc.stdout.readline().strip() == "ok"

    q = [1.0, 0, 0, 0]
    try:
        with open_store(db_url, vector_dim=DIM, vector_search="exact") as a:
            a.put_memories([Memory("e", "mine", process_id="coach", embedding=(0.5, 1.0, 0, 0))])
            a.append_turns([turn("e", "my turn", p="coach", embedding=(0.5, 1.0, 0, 0))])

            def memories() -> list[str]:
                return [h.content for h in a.search_memories(Scope("e", "coach"), vector=q)]

            def turns() -> list[str]:
                return [h.content for h in a.search_turns(Scope("e", "coach", "s1"), vector=q)]

            assert memories() == ["mine"] and turns() == ["my turn"]
            other(op="put", id="b1", content="theirs", v=[1.0, 0, 0, 0])
            assert memories() == ["theirs", "mine"]
            other(op="turn", content="their turn", v=[1.0, 0, 0, 0])
            assert turns() == ["their turn", "my turn"]
            other(op="update", id="b1", changes={"embedding": [0, 0, 1.0, 0]})
            assert memories() == ["mine", "theirs"]
            other(op="update", id="b1", changes={"superseded_by": "b2"})
            assert memories() == ["mine"]
            other(op="put", id="b3", content="planner's", v=[1.0, 0, 0, 0], p="planner")
            assert memories() == ["mine"]
            other(op="update", id="b3", p="planner", changes={"shared": True})
            assert memories() == ["planner's", "mine"]
            other(op="delete", id="b3", p="planner")
            assert memories() == ["mine"]
            a.put_memories([Memory("e", "mine again", process_id="coach",
                                   embedding=(1.0, 0, 0, 0))])  # A's own write, after B's
            assert memories() == ["mine again", "mine"]
            other(op="forget")
            assert memories() == [] and turns() == []
            assert a.raw_count("e") == 0
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=60)
    assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""


HOLD_THE_WRITE_LOCK = """
import sqlite3, sys, time
db = sqlite3.connect(sys.argv[1], isolation_level=None)
db.execute("CREATE TABLE IF NOT EXISTS creating (x)")
db.execute("BEGIN IMMEDIATE")  # a writer mid-transaction, the file still in its first mode
db.execute("INSERT INTO creating VALUES (1)")
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
db.execute("COMMIT")
"""


@pytest.mark.parametrize("busy_timeout, opens", [(30, True), (0.2, False)])
def test_a_store_opens_while_another_process_writes_to_the_new_file(
    tmp_path: Path, busy_timeout: float, opens: bool,
) -> None:
    """Two processes starting on one new file at once: the switch to WAL fails at once
    while the other writes (SQLite's busy wait does not cover it), so it is tried again
    for as long as ``busy_timeout``; a clean error after that."""
    from memori import Memori

    path = tmp_path / "new.db"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_WRITE_LOCK, str(path), "0.8"],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
        url = f"sqlite:///{path}"
        if not opens:
            with pytest.raises(StoreUnavailableError, match="database is locked"):
                Memori(url, embedder="hash", store_options={"busy_timeout": busy_timeout})
            return
        with Memori(url, embedder="hash", store_options={"busy_timeout": busy_timeout}) as mem:
            mem.attribution(entity_id="u")
            mem.remember("I opened while another process was writing.")
            assert [h.content for h in mem.recall("opened")] == [
                "I opened while another process was writing."]
        assert sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        holder.wait(timeout=30)
