"""The SQLite store's in-process item cache: BM25 parity with FTS5, per-entity
statistics, staleness across stores on one file, visibility, recent_turns,
hits without vectors, and revision 0005 (an update of any column is a change)."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

from memori.backends.sql import migrate
from memori.backends.sqlite.store import SQLiteStore, open_store
from memori.core import (
    ConfigurationError,
    ExtractState,
    Hit,
    Memory,
    SchemaOutdatedError,
    Scope,
    Turn,
)

DIM = 4
WORDS = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "iota", "kappa"]
QUERIES = [
    *WORDS,
    "alpha beta",
    "gamma delta epsilon",
    "Theta, IOTA!",
    "kappa zzzabsent",
    "zzzabsent",
    "beta beta gamma",
]


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'store.db'}"


def _open(url: str, **options: Any) -> SQLiteStore:
    """A store that caches an entity's items from its first search (the default waits
    for a few searches first, see test_items_are_cached_after_a_few_searches)."""
    options.setdefault("item_cache_after", 0)
    s = open_store(url, vector_dim=DIM, vector_search="exact", **options)
    s.setup()
    return s


def test_items_are_cached_after_a_few_searches(db_url: str) -> None:
    default = open_store(db_url, vector_dim=DIM)
    default.setup()
    default.put_memories([Memory("e", f"alpha {w}", embedding=(1.0, 0, 0, 0)) for w in WORDS])
    want = [h.id for h in default.search_memories(Scope("e"), text="alpha beta", limit=5)]
    for _ in range(3):  # four searches in all are served by FTS5: nothing built yet
        assert [h.id for h in default.search_memories(
            Scope("e"), text="alpha beta", limit=5)] == want
    assert default.admin_stats()["item_cache"]["builds"] == 0
    got = [h.id for h in default.search_memories(Scope("e"), text="alpha beta", limit=5)]
    assert got == want and default.admin_stats()["item_cache"]["builds"] == 1
    with pytest.raises(ConfigurationError):
        open_store(db_url, vector_dim=DIM, item_cache_after=-1)
    default.close()


@pytest.fixture
def on_off(db_url: str) -> Iterator[tuple[SQLiteStore, SQLiteStore]]:
    """Two stores on one file: one with the item cache, one searching text in FTS5."""
    on = _open(db_url)
    off = _open(db_url, item_cache_items=0)
    yield on, off
    on.close()
    off.close()


@pytest.fixture
def two_stores(db_url: str) -> Iterator[tuple[SQLiteStore, SQLiteStore]]:
    """Two cached stores on one file, as two processes would open it."""
    a = _open(db_url)
    b = _open(db_url)
    yield a, b
    a.close()
    b.close()


def turn(e: str, content: str, *, p: str | None = None, s: str = "s1", **kw: object) -> Turn:
    return Turn(entity_id=e, session_id=s, role="user", content=content, process_id=p, **kw)  # type: ignore[arg-type]


def _corpus(rng: random.Random, n: int) -> list[str]:
    """Texts of 1 to 15 words over a small vocabulary: many term frequencies and lengths."""
    return [" ".join(rng.choice(WORDS) for _ in range(rng.randint(1, 15))) for _ in range(n)]


def _item_stats(s: SQLiteStore) -> dict[str, int]:
    stats = s.admin_stats()["item_cache"]
    assert stats is not None
    return stats  # type: ignore[no-any-return]


def _ranked(hits: list[Hit]) -> list[tuple[str, float]]:
    return [(h.id, h.score) for h in hits]


def _assert_same_ranking(got: list[Hit], want: list[Hit]) -> None:
    """Same ids in the same order, scores equal to ~1e-6 (relative: some are tiny)."""
    assert [h.id for h in got] == [h.id for h in want]
    for g, w in zip(got, want, strict=True):
        assert g.score == pytest.approx(w.score, rel=1e-6, abs=1e-12)
        assert g.signals.keys() == w.signals.keys() == {"text"}


def _single_entity_data(rng: random.Random) -> tuple[list[Memory], list[Turn]]:
    texts = _corpus(rng, 80)
    memories = [
        Memory("e", text, created_at=float(i % 7), id=f"m{i:03d}",
               process_id=[None, "p1", "p2"][i % 3], shared=i % 5 == 0,
               superseded_by="m000" if i % 11 == 3 else None)
        for i, text in enumerate(texts)
    ]
    turns = [
        turn("e", text, p=[None, "p1"][i % 2], s=f"s{i % 3}", created_at=float(i % 5),
             id=f"t{i:03d}")
        for i, text in enumerate(_corpus(rng, 80))
    ]
    return memories, turns


# 1. BM25 parity with FTS5 on a single-entity file


def test_minimal_ranking_difference_between_cache_and_fts5(
    on_off: tuple[SQLiteStore, SQLiteStore],
) -> None:
    """Five one-entity rows are enough for the cache and FTS5 to rank differently."""
    on, off = on_off
    on.put_memories([
        Memory("e", "w", id="short", created_at=1.0),
        Memory("e", "w w x", id="twice", created_at=2.0),
        *[Memory("e", word, id=word, created_at=3.0) for word in ("a", "b", "c")],
    ])
    want = off.search_memories(Scope("e"), text="w")
    assert [h.id for h in want] == ["twice", "short"]  # FTS5 (length = words + 1)
    got = on.search_memories(Scope("e"), text="w")
    _assert_same_ranking(got, want)


def test_text_search_matches_fts5_for_memories(
    on_off: tuple[SQLiteStore, SQLiteStore],
) -> None:
    on, off = on_off
    memories, _ = _single_entity_data(random.Random(7))
    on.put_memories(memories)
    for q in QUERIES:
        for scope in (Scope("e"), Scope("e", "p1")):
            for history in (False, True):
                got = on.search_memories(scope, text=q, limit=100, include_superseded=history)
                want = off.search_memories(scope, text=q, limit=100, include_superseded=history)
                _assert_same_ranking(got, want)
    assert _item_stats(on)["builds"] == 1


def test_text_search_matches_fts5_for_turns(on_off: tuple[SQLiteStore, SQLiteStore]) -> None:
    on, off = on_off
    _, turns = _single_entity_data(random.Random(8))
    on.append_turns(turns)
    for q in QUERIES:
        for scope in (Scope("e"), Scope("e", "p1"), Scope("e", None, "s1"),
                      Scope("e", "p1", "s2")):
            got = on.search_turns(scope, text=q, limit=100)
            want = off.search_turns(scope, text=q, limit=100)
            _assert_same_ranking(got, want)
    assert _item_stats(on)["builds"] == 1


def test_text_search_matches_the_same_rows_as_fts5(
    on_off: tuple[SQLiteStore, SQLiteStore],
) -> None:
    """What matches (any word of the query, tokenized as FTS5 does) agrees, limit and
    the absent word included, and the cache answered every search without SQL text."""
    on, off = on_off
    memories, turns = _single_entity_data(random.Random(9))
    on.put_memories(memories)
    on.append_turns(turns)
    for q in QUERIES:
        got = on.search_memories(Scope("e"), text=q, limit=100)
        want = off.search_memories(Scope("e"), text=q, limit=100)
        assert {h.id for h in got} == {h.id for h in want}
        assert all(0.0 < h.score < 1.0 for h in got)
        got_t = on.search_turns(Scope("e", "p1"), text=q, limit=100)
        want_t = off.search_turns(Scope("e", "p1"), text=q, limit=100)
        assert {h.id for h in got_t} == {h.id for h in want_t}
        assert len(on.search_memories(Scope("e"), text=q, limit=3)) == min(3, len(want))
    assert on.search_memories(Scope("e"), text="zzzabsent") == []
    assert on.search_turns(Scope("e"), text="zzzabsent nothing") == []
    assert on.search_memories(Scope("e"), text="  ,;  ") == []
    stats = _item_stats(on)
    assert (stats["builds"], stats["sets"]) == (2, 2)
    assert stats["items"] == len(memories) + len(turns)
    assert off.admin_stats()["item_cache"] is None


# 2. per-entity statistics


def test_other_entities_never_appear_and_do_not_move_scores(db_url: str) -> None:
    on = _open(db_url)
    off = _open(db_url, item_cache_items=0)
    rng = random.Random(21)
    on.put_memories([Memory("a", t, created_at=float(i)) for i, t in enumerate(_corpus(rng, 40))])
    on.append_turns([turn("a", t, created_at=float(i)) for i, t in enumerate(_corpus(rng, 40))])
    on.put_memories([Memory("b", t) for t in _corpus(rng, 10)])
    b_ids = {m.id for m in on.list_memories(Scope("b"))}

    def searches(s: SQLiteStore) -> list[list[tuple[str, float]]]:
        return [_ranked(s.search_memories(Scope("a"), text=q, limit=100)) for q in QUERIES] + [
            _ranked(s.search_turns(Scope("a", None, "s1"), text=q, limit=100)) for q in QUERIES]

    before, before_sql = searches(on), searches(off)
    assert any(before)
    b_many = [Memory("b", t) for t in _corpus(rng, 300)]
    on.put_memories(b_many)
    on.append_turns([turn("b", t) for t in _corpus(rng, 300)])
    b_ids |= {m.id for m in b_many}
    after = searches(on)
    assert after == before  # per-entity statistics: bit for bit
    assert not {i for ranked in after for i, _ in ranked} & b_ids
    # the SQL path ranks by the entity's own statistics too (not FTS5's table-wide
    # bm25): the same scores as the cache, unmoved by the other entity's writes
    assert before_sql == before
    assert searches(off) == before_sql
    for q in QUERIES:
        b_hits = on.search_memories(Scope("b"), text=q, limit=1000)
        assert {h.id for h in b_hits} <= b_ids
    on.close()
    off.close()


# 3. staleness across two stores on one file


def test_memory_changes_by_another_store_are_seen(
    two_stores: tuple[SQLiteStore, SQLiteStore],
) -> None:
    a, b = two_stores
    scope = Scope("e")
    m = Memory("e", "original wording about tulips", metadata={"v": 1},
               embedding=(1.0, 0.0, 0.0, 0.0))
    keep = Memory("e", "another note about roses", embedding=(0.0, 1.0, 0.0, 0.0))
    a.put_memories([m, keep])
    assert [h.id for h in a.search_memories(scope, text="tulips")] == [m.id]
    assert [h.id for h in a.search_memories(scope, vector=[1.0, 0, 0, 0], limit=1)] == [m.id]
    builds = _item_stats(a)["builds"]

    assert b.update_memory(scope, m.id, {"content": "rewritten wording about orchids"})
    assert a.search_memories(scope, text="tulips") == []
    hits = a.search_memories(scope, text="orchids")
    assert [h.id for h in hits] == [m.id]
    assert hits[0].content == "rewritten wording about orchids"
    vhit = a.search_memories(scope, vector=[1.0, 0, 0, 0], limit=1)[0]
    assert vhit.content == "rewritten wording about orchids"  # item read from the cache
    assert [h.id for h in a.search_memories(scope, text="wording", limit=5)] == [m.id]

    assert b.update_memory(scope, m.id, {"metadata": {"v": 2, "tag": "x"}, "count": 7,
                                         "kind": "preference", "last_seen_at": 123.5})
    item = a.search_memories(scope, text="orchids")[0].item
    assert isinstance(item, Memory)
    assert (dict(item.metadata), item.count, item.kind, item.last_seen_at) == (
        {"v": 2, "tag": "x"}, 7, "preference", 123.5)

    assert b.update_memory(scope, m.id, {"superseded_by": keep.id})
    assert a.search_memories(scope, text="orchids") == []
    assert [h.id for h in a.search_memories(scope, text="roses orchids")] == [keep.id]
    history = a.search_memories(scope, text="orchids", include_superseded=True)
    assert [h.id for h in history] == [m.id]
    assert history[0].item.superseded_by == keep.id  # type: ignore[union-attr]

    assert b.delete_memories(scope, [m.id]) == 1
    assert a.search_memories(scope, text="orchids", include_superseded=True) == []
    assert [h.id for h in a.search_memories(scope, vector=[1.0, 0, 0, 0], limit=5)] == [keep.id]

    stats = _item_stats(a)
    assert stats["builds"] == builds, "changes are caught up from the log, not rescanned"
    assert stats["catch_ups"] >= 4


def test_pinned_memories_come_from_the_cache_and_follow_another_stores_pins(
    db_url: str, two_stores: tuple[SQLiteStore, SQLiteStore],
) -> None:
    a, b = two_stores
    off = _open(db_url, item_cache_items=0)  # the SQL answer, for comparison
    mine, other = Scope("e", "p1"), Scope("e", "p2")
    v = {"embedding": (1.0, 0.0, 0.0, 0.0)}
    old = Memory("e", "pinned long ago", pinned=True, created_at=1.0, **v)
    own = Memory("e", "p1's own pin", process_id="p1", pinned=True, created_at=2.0, **v)
    foreign = Memory("e", "p2's own pin", process_id="p2", pinned=True, created_at=3.0, **v)
    shared = Memory("e", "p2's shared pin", process_id="p2", shared=True, pinned=True,
                    created_at=4.0, **v)
    plain = Memory("e", "not pinned", created_at=5.0, **v)
    elsewhere = Memory("e2", "another entity's pin", pinned=True, **v)
    a.put_memories([old, own, foreign, shared, plain, elsewhere])

    def check(scope: Scope, want: list[str]) -> None:
        got, sql = a.list_pinned(scope), off.list_pinned(scope)
        assert [m.id for m in got] == want == [m.id for m in sql]
        assert all(m.embedding is None for m in got)  # served from the cache
        assert all(m.embedding is not None for m in sql)

    builds = _item_stats(a)["builds"]
    assert a.search_memories(mine, text="pinned")  # the entity's items are now cached
    assert _item_stats(a)["builds"] == builds + 1
    check(mine, [old.id, own.id, shared.id])
    check(other, [old.id, foreign.id, shared.id])
    check(Scope("e"), [old.id, shared.id])

    assert b.update_memory(mine, plain.id, {"pinned": True})  # another process pins...
    assert b.update_memory(mine, own.id, {"pinned": False})  # ...and unpins
    check(mine, [old.id, shared.id, plain.id])
    assert b.update_memory(Scope("e"), old.id, {"superseded_by": plain.id})
    check(mine, [shared.id, plain.id])
    assert b.delete_memories(other, [shared.id]) == 1
    check(mine, [plain.id])
    check(other, [foreign.id, plain.id])
    assert _item_stats(a)["builds"] == builds + 1, "caught up from the log, not rescanned"
    off.close()


def test_turn_changes_by_another_store_are_seen(
    two_stores: tuple[SQLiteStore, SQLiteStore], db_url: str,
) -> None:
    a, b = two_stores
    scope = Scope("e", None, "s1")
    first = turn("e", "hello about the garden", created_at=1.0)
    a.append_turns([first])
    assert [h.id for h in a.search_turns(scope, text="garden")] == [first.id]
    assert [t.id for t in a.recent_turns(scope, limit=5)] == [first.id]
    builds = _item_stats(a)["builds"]

    later = [turn("e", f"later garden note {i}", created_at=2.0 + i) for i in range(3)]
    b.append_turns(later)
    assert {h.id for h in a.search_turns(scope, text="garden")} == {
        first.id, *[t.id for t in later]}
    assert [t.id for t in a.recent_turns(scope, limit=2)] == [later[1].id, later[2].id]
    assert [h.id for h in a.search_turns(scope, text="later", limit=10)] == [
        t.id for t in later]

    b.outbox_mark("e", [first.id], ExtractState.PARKED, attempts=3, error="boom")
    hit = a.search_turns(scope, text="hello")[0].item
    assert isinstance(hit, Turn)
    assert (hit.extract_state, hit.extract_attempts, hit.extract_error) == (
        ExtractState.PARKED, 3, "boom")
    assert a.recent_turns(scope, limit=4)[0].extract_state is ExtractState.PARKED

    # a writer that is not memori at all: the triggers count it too
    raw = sqlite3.connect(db_url.removeprefix("sqlite:///"))
    with raw:
        raw.execute("UPDATE memori_turns SET metadata = '{\"edited\": true}' WHERE id = ?",
                    (first.id,))
    raw.close()
    assert dict(a.search_turns(scope, text="hello")[0].item.metadata) == {"edited": True}

    assert b.delete_turns(scope, [later[0].id]) == 1
    assert later[0].id not in {h.id for h in a.search_turns(scope, text="garden")}
    assert [t.id for t in a.recent_turns(scope, limit=10)] == [
        first.id, later[1].id, later[2].id]
    assert _item_stats(a)["builds"] == builds


def test_forget_drops_everything_for_both_stores(
    two_stores: tuple[SQLiteStore, SQLiteStore],
) -> None:
    a, b = two_stores
    scope = Scope("e", None, "s1")
    a.put_memories([Memory("e", "remember the lighthouse", embedding=(1.0, 0, 0, 0))])
    a.append_turns([turn("e", "lighthouse talk", embedding=(1.0, 0, 0, 0))])
    a.put_memories([Memory("other", "lighthouse of another entity")])
    for s in (a, b):  # both build their sets
        assert len(s.search_memories(Scope("e"), text="lighthouse")) == 1
        assert len(s.search_turns(scope, text="lighthouse")) == 1
        assert len(s.recent_turns(scope, limit=5)) == 1
    assert a.forget("e") == 2
    for s in (a, b):
        assert s.search_memories(Scope("e"), text="lighthouse") == []
        assert s.search_memories(Scope("e"), vector=[1.0, 0, 0, 0]) == []
        assert s.search_turns(scope, text="lighthouse") == []
        assert s.search_turns(scope, vector=[1.0, 0, 0, 0]) == []
        assert s.recent_turns(scope, limit=5) == []
        assert len(s.search_memories(Scope("other"), text="lighthouse")) == 1
    assert a.raw_count("e") == 0
    b.put_memories([Memory("e", "lighthouse again after forget")])
    for s in (a, b):
        hits = s.search_memories(Scope("e"), text="lighthouse")
        assert [h.content for h in hits] == ["lighthouse again after forget"]


# 4. visibility through the cache


def test_persona_visibility_matches_sql(on_off: tuple[SQLiteStore, SQLiteStore]) -> None:
    on, off = on_off
    mine = Memory("e", "secret plan", process_id="p1", id="mine")
    shared = Memory("e", "shared plan", process_id="p1", shared=True, id="shared")
    nobody = Memory("e", "common plan", id="nobody")
    theirs = Memory("e", "their plan", process_id="p2", id="theirs")
    on.put_memories([mine, shared, nobody, theirs])
    on.append_turns([
        turn("e", "plan in s1", p="p1", s="s1", id="p1s1"),
        turn("e", "plan in s2", p="p1", s="s2", id="p1s2"),
        turn("e", "plan by p2", p="p2", s="s1", id="p2s1"),
        turn("e", "plan by nobody", p=None, s="s1", id="nos1"),
    ])
    expect_memories = {
        None: {"shared", "nobody"},
        "p1": {"mine", "shared", "nobody"},
        "p2": {"shared", "nobody", "theirs"},
        "p3": {"shared", "nobody"},
    }
    expect_turns = {
        (None, None): {"nos1"}, (None, "s1"): {"nos1"}, (None, "s2"): set(),
        ("p1", None): {"p1s1", "p1s2"}, ("p1", "s1"): {"p1s1"}, ("p1", "s2"): {"p1s2"},
        ("p2", None): {"p2s1"}, ("p2", "s2"): set(), ("p3", None): set(),
        ("p1", "s9"): set(),
    }
    for s in (on, off):
        for p, want in expect_memories.items():
            hits = s.search_memories(Scope("e", p), text="plan", limit=50)
            assert {h.id for h in hits} == want, (s.admin_stats()["item_cache"], p)
        for (p, sess), want in expect_turns.items():
            hits = s.search_turns(Scope("e", p, sess), text="plan", limit=50)
            assert {h.id for h in hits} == want, (p, sess)
            recent = s.recent_turns(Scope("e", p, sess), limit=50)
            assert {t.id for t in recent} == want, (p, sess)
    assert _item_stats(on)["builds"] == 2
    # a change of visibility is seen through the cache
    assert off.update_memory(Scope("e", "p2"), "theirs", {"shared": True})
    hits = on.search_memories(Scope("e", "p1"), text="plan", limit=50)
    assert {h.id for h in hits} == {"mine", "shared", "nobody", "theirs"}
    assert off.update_memory(Scope("e", "p1"), "shared", {"shared": False})
    assert {h.id for h in on.search_memories(Scope("e", "p2"), text="plan", limit=50)} == {
        "nobody", "theirs"}


# 5. recent_turns


def _recent_data() -> list[Turn]:
    rng = random.Random(4)
    turns = []
    for i in range(60):
        turns.append(turn(
            "e", f"turn {i}", p=[None, "p1"][i % 2], s=["s1", "s2", "s3"][i % 3],
            created_at=float(rng.randint(1, 8)),  # many ties: broken by id
            id=f"id{rng.randint(0, 10**6):07d}{i:02d}",
            embedding=(1.0, float(i), 0.0, 0.0),
        ))
    return turns


@pytest.mark.parametrize("item_cache", [True, False])
def test_recent_turns_equal_list_turns(db_url: str, item_cache: bool) -> None:
    s = _open(db_url) if item_cache else _open(db_url, item_cache_items=0)
    turns = _recent_data()
    s.append_turns(turns[:40])
    scopes = [Scope("e", p, sess) for p in (None, "p1", "p9")
              for sess in (None, "s1", "s2", "s3", "s9")]

    def check() -> None:
        for scope in scopes:
            for n in (0, 1, 3, 7, 100):
                want = s.list_turns(scope, limit=n)
                got = s.recent_turns(scope, limit=n)
                assert [t.id for t in got] == [t.id for t in want], (scope, n)
                assert got == want  # every field but the vector (not compared)
                assert all(t.embedding is not None for t in want)

    check()
    s.append_turns(turns[40:])
    check()
    everything = s.list_turns(Scope("e", "p1"))
    assert len(everything) == 30
    keys = [(t.created_at, t.id) for t in everything]
    assert keys == sorted(keys) and len(set(t.created_at for t in everything)) < 30
    with pytest.raises(ValueError):
        s.recent_turns(Scope("e"), limit=-1)
    stats = s.admin_stats()["item_cache"]
    if item_cache:
        assert stats is not None and stats["builds"] == 1
    else:
        assert stats is None
    s.close()


@pytest.mark.parametrize("options", [
    {},
    {"vector_cache_items": 0},
    {"item_cache_items": 0},
    {"item_cache_items": 0, "vector_cache_items": 0},
    {"item_cache_items": 20},  # 60 turns: more than half of 20, not cached
], ids=["cache", "no-vector-cache", "no-item-cache", "no-cache", "entity-too-big"])
def test_recent_turns_carry_no_embedding(db_url: str, options: dict[str, int]) -> None:
    s = _open(db_url, **options)
    s.append_turns(_recent_data())
    for scope in (Scope("e"), Scope("e", "p1", "s2")):
        want = s.list_turns(scope, limit=5)
        got = s.recent_turns(scope, limit=5)
        assert [t.id for t in got] == [t.id for t in want] and len(got) == 5
        assert all(t.embedding is not None for t in want)
        assert [t.embedding for t in got] == [None] * 5
    s.close()


# 6. hits without vectors


@pytest.mark.parametrize("options", [
    {}, {"item_cache_items": 0}, {"vector_cache_items": 0},
    {"item_cache_items": 0, "vector_cache_items": 0},
], ids=["both-caches", "no-item-cache", "no-vector-cache", "no-cache"])
def test_hits_have_no_embedding_but_reads_do(db_url: str, options: dict[str, int]) -> None:
    s = _open(db_url, **options)
    m = Memory("e", "vectors stay in the database", embedding=(0.5, 0.5, 0.0, 0.0))
    t = turn("e", "vectors of a turn", embedding=(0.0, 0.0, 1.0, 0.0))
    s.put_memories([m])
    s.append_turns([t])
    scope = Scope("e", None, "s1")
    for _ in range(2):  # the second round from whatever the first cached
        searches = [
            s.search_memories(scope, text="vectors"),
            s.search_memories(scope, vector=[1.0, 0, 0, 0]),
            s.search_memories(scope, text="vectors", vector=[1.0, 0, 0, 0]),
            s.search_turns(scope, text="vectors"),
            s.search_turns(scope, vector=[0, 0, 1.0, 0]),
            s.search_turns(scope, text="vectors", vector=[0, 0, 1.0, 0]),
        ]
        for hits in searches:
            assert len(hits) == 1
            assert hits[0].item.embedding is None
            assert hits[0].id in (m.id, t.id)
        got = s.get_memory(scope, m.id)
        assert got is not None and got.embedding == pytest.approx((0.5, 0.5, 0.0, 0.0))
        (listed,) = s.list_memories(scope)
        assert listed.embedding == pytest.approx((0.5, 0.5, 0.0, 0.0))
        (stored,) = s.list_turns(scope)
        assert stored.embedding == pytest.approx((0.0, 0.0, 1.0, 0.0))
    s.close()


# 7. revision 0005 down and up on a file with data


def _version(conn: Connection, kind: str) -> int:
    return int(conn.exec_driver_sql(
        "SELECT version FROM memori_entity_versions WHERE entity_id = 'e' AND kind = ?",
        (kind,)).scalar_one())


def _update_trigger_sql(engine: Engine) -> str:
    with engine.connect() as conn:
        return str(conn.exec_driver_sql(
            "SELECT sql FROM sqlite_master WHERE type = 'trigger' "
            "AND name = 'memori_memories_version_au'").scalar_one())


def test_migration_0005_down_and_up_with_data(db_url: str) -> None:
    m = Memory("e", "before the downgrade", embedding=(1.0, 0, 0, 0))
    t = turn("e", "a turn kept across", embedding=(1.0, 0, 0, 0))
    with _open(db_url) as s:
        assert s.admin_stats()["revision"] == migrate.head()  # 0005 or later
        s.put_memories([m])
        s.append_turns([t])
    engine = create_engine(db_url)
    try:
        assert " OF " not in _update_trigger_sql(engine)
        with engine.begin() as conn:
            migrate.downgrade(conn, "0004")
        assert " OF " in _update_trigger_sql(engine)
        with engine.begin() as conn:
            assert migrate.current_revision(conn) == "0004"
            mv, tv = _version(conn, "memories"), _version(conn, "turns")
            conn.exec_driver_sql("UPDATE memori_memories SET content = 'changed at 0004', "
                                 "count = 2, metadata = '{\"a\": 1}' WHERE id = ?", (m.id,))
            conn.exec_driver_sql("UPDATE memori_turns SET extract_state = 'done' WHERE id = ?",
                                 (t.id,))
            assert (_version(conn, "memories"), _version(conn, "turns")) == (mv, tv)
            conn.exec_driver_sql("UPDATE memori_memories SET shared = 1 WHERE id = ?", (m.id,))
            assert _version(conn, "memories") == mv + 1  # a column 0004 watches
        stale = open_store(db_url, vector_dim=DIM, item_cache_after=0)
        with pytest.raises(SchemaOutdatedError):
            stale.setup()
        stale.close()

        with engine.begin() as conn:
            migrate.upgrade(conn, "head")
        assert " OF " not in _update_trigger_sql(engine)
        with engine.begin() as conn:
            assert migrate.current_revision(conn) == migrate.head()  # through 0005
            mv, tv = _version(conn, "memories"), _version(conn, "turns")
            conn.exec_driver_sql("UPDATE memori_memories SET content = 'changed at 0005' "
                                 "WHERE id = ?", (m.id,))
            assert _version(conn, "memories") == mv + 1
            conn.exec_driver_sql("UPDATE memori_turns SET metadata = '{\"b\": 2}' WHERE id = ?",
                                 (t.id,))
            assert _version(conn, "turns") == tv + 1
            seq = conn.exec_driver_sql(
                "SELECT seq FROM memori_entity_changes WHERE entity_id = 'e' "
                "AND kind = 'memories' AND item_id = ?", (m.id,)).scalar_one()
            assert seq == mv + 1
    finally:
        engine.dispose()

    with _open(db_url) as s:
        assert s.count_memories(Scope("e")) == 1 and s.count_turns(Scope("e")) == 1
        hits = s.search_memories(Scope("e"), text="changed")
        assert [h.content for h in hits] == ["changed at 0005"]
        assert hits[0].item.count == 2  # type: ignore[union-attr]
        (listed,) = s.list_turns(Scope("e", None, "s1"))
        assert listed.extract_state is ExtractState.DONE and dict(listed.metadata) == {"b": 2}
        # and the cache now follows a content change made behind its back
        raw = sqlite3.connect(db_url.removeprefix("sqlite:///"))
        with raw:
            raw.execute("UPDATE memori_memories SET content = 'edited raw' WHERE id = ?",
                        (m.id,))
        raw.close()
        assert s.search_memories(Scope("e"), text="changed") == []
        assert [h.content for h in s.search_memories(Scope("e"), text="raw")] == ["edited raw"]


# 8. concurrency


def test_searches_racing_writes_never_fail_or_leak(db_url: str) -> None:
    """Threads search one store while another thread adds, edits, supersedes and
    deletes through a second store on the same file (catch-ups and compactions
    happen under the searches): nothing raises, and every hit is the searcher's."""
    import threading

    reader = _open(db_url)
    writer = _open(db_url)
    rng = random.Random(5)
    writer.put_memories([Memory("e", t, process_id=["p1", "p2", None][i % 3],
                                embedding=(1.0, float(i % 7), 0.0, 1.0))
                         for i, t in enumerate(_corpus(rng, 300))])
    writer.put_memories([Memory("x", f"alpha {t}", embedding=(1.0, 0.0, 0.0, 0.0))
                         for t in _corpus(rng, 50)])
    stop = threading.Event()
    errors: list[BaseException] = []

    def search(persona: str) -> None:
        scope = Scope("e", persona)
        try:
            while not stop.is_set():
                for q in QUERIES:
                    hits = reader.search_memories(scope, text=q, limit=20) + \
                        reader.search_memories(scope, vector=(1.0, 2.0, 0.0, 1.0), limit=20)
                    for h in hits:
                        m = h.item
                        assert isinstance(m, Memory) and m.entity_id == "e"
                        assert m.process_id in (None, persona) or m.shared
                        assert m.superseded_by is None
        except BaseException as e:  # reported below
            errors.append(e)
            stop.set()

    def write() -> None:
        wrng = random.Random(6)
        try:
            for round_ in range(40):
                fresh = [Memory("e", t, process_id=wrng.choice(["p1", "p2", None]))
                         for t in _corpus(wrng, 10)]
                writer.put_memories(fresh)
                some = writer.list_memories(Scope("e", "p1"), limit=30)
                for m in some[:5]:
                    writer.update_memory(Scope("e", "p1"), m.id,
                                         {"content": f"kappa {round_}", "count": m.count + 1})
                if len(some) > 8:
                    writer.update_memory(Scope("e", "p1"), some[6].id,
                                         {"superseded_by": some[7].id})
                    writer.delete_memories(Scope("e", "p1"), [some[8].id])
        except BaseException as e:
            errors.append(e)
        finally:
            stop.set()

    threads = [threading.Thread(target=search, args=(p,)) for p in ("p1", "p2")]
    threads.append(threading.Thread(target=write))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert not errors, errors[0]
    stats = _item_stats(reader)
    assert stats["catch_ups"] > 0 or stats["builds"] > 1  # the cache kept up with the writer
    final = {h.id for h in reader.search_memories(Scope("e", "p1"), text="kappa", limit=500)}
    want = {m.id for m in writer.list_memories(Scope("e", "p1")) if "kappa" in m.content}
    assert final == want
    reader.close()
    writer.close()


def test_own_writes_bring_the_cached_sets_forward_at_once(db_url: str) -> None:
    """A write through the store catches its cached sets up in the writer's thread, so
    the next search (often on a caller's critical path) has nothing left to do."""
    s = _open(db_url)
    s.append_turns([turn("e", "alpha beta", embedding=(1.0, 0.0, 0.0, 0.0))])
    s.put_memories([Memory("e", "gamma", embedding=(0.0, 1.0, 0.0, 0.0))])
    for kind_search in (s.search_turns, s.search_memories):  # build the sets
        kind_search(Scope("e"), text="alpha gamma", vector=(1.0, 1.0, 0.0, 0.0), limit=5)

    def catch_ups() -> tuple[int, int]:
        stats = s.admin_stats()
        return stats["item_cache"]["catch_ups"], stats["vector_cache"]["catch_ups"]

    before = catch_ups()
    s.append_turns([turn("e", "delta", embedding=(0.0, 0.0, 1.0, 0.0))])
    m = s.list_memories(Scope("e"))[0]
    s.update_memory(Scope("e"), m.id, {"content": "epsilon"})
    after_writes = catch_ups()
    assert after_writes == (before[0] + 2, before[1] + 2)  # turns and memories, each cache
    assert [h.content for h in s.search_turns(Scope("e"), text="delta", limit=5)] == ["delta"]
    assert [h.content for h in s.search_memories(Scope("e"), text="epsilon")] == ["epsilon"]
    assert catch_ups() == after_writes  # the searches found the sets current
    s.put_memories([Memory("other", "zeta")])  # an entity with no cached set: nothing to do
    assert catch_ups() == after_writes
    s.close()


def test_a_row_the_caches_hold_wrongly_is_never_returned(db_url: str) -> None:
    """The accelerator's last check is core's visibility rule, not its own masks: an
    item whose cached copy no longer matches its audience columns is dropped."""
    s = _open(db_url)
    mine = Memory("e", "alpha mine", process_id="a", embedding=(1.0, 0, 0, 0))
    theirs = Memory("e", "alpha theirs", process_id="a", embedding=(1.0, 0, 0, 0))
    s.put_memories([mine, theirs])
    turns = [Turn("e", "s1", "user", f"alpha {i}", process_id="a") for i in range(3)]
    s.append_turns(turns)
    scope = Scope("e", "a")
    assert len(s.search_memories(scope, text="alpha", vector=[1.0, 0, 0, 0], limit=5)) == 2
    assert len(s.recent_turns(scope.with_session("s1"), limit=5)) == 3
    items = s._cache.items
    assert items is not None
    for kind, item_id, wrong in (
        ("memories", theirs.id, replace(theirs, process_id="b")),
        ("turns", turns[1].id, replace(turns[1], session_id="s2")),
    ):
        held = items.get((kind, "e"))  # type: ignore[arg-type]
        assert held is not None
        held._items[held._slots[item_id]] = wrong  # the masks still say "visible"
    for text, vector in (("alpha", None), (None, [1.0, 0, 0, 0]), ("alpha", [1.0, 0, 0, 0])):
        hits = s.search_memories(scope, text=text, vector=vector, limit=5)
        assert [h.id for h in hits] == [mine.id], (text, vector)
    recent = s.recent_turns(scope.with_session("s1"), limit=5)
    assert [t.id for t in recent] == [turns[0].id, turns[2].id]
    s.close()
