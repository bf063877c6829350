"""SQLite's text search in SQL (an entity the in-process cache does not hold) ranks by
the entity's own statistics: the same scores as the cache, whatever other tenants
hold, kept current through the entity's own writes, a forget, long and CJK rows."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from memori.backends.sqlite import fts_rank
from memori.backends.sqlite.store import SQLiteStore, open_store
from memori.core import Memory, Scope

WORDS = ["coffee", "tea", "running", "hiking", "guitar", "piano", "lisbon", "peanuts",
         "garden", "chess", "yoga", "jazz"]
QUERIES = ["coffee", "tea running", "I like hiking and jazz on weekends", "peanuts zzzabsent",
           "花生", "Lisbon, GARDEN!"]


def corpus(rng: random.Random, n: int) -> list[str]:
    return [f"I like {rng.choice(WORDS)} and {' '.join(rng.choices(WORDS, k=rng.randint(1, 6)))}"
            for _ in range(n)]


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[SQLiteStore, SQLiteStore]]:
    """One file: a store that searches every entity in SQL, one that caches them all."""
    url = f"sqlite:///{tmp_path / 'rank.db'}"
    sql = open_store(url, vector_dim=4, item_cache_items=0)
    sql.setup()
    cached = open_store(url, vector_dim=4, item_cache_after=0)
    cached.setup()
    yield sql, cached
    sql.close()
    cached.close()


def seeded(store: SQLiteStore, seed: int, n: int) -> random.Random:
    """Entity ``a`` given ``n`` memories; the generator for what the test writes next."""
    rng = random.Random(seed)
    store.put_memories([Memory("a", t) for t in corpus(rng, n)])
    return rng


def ranked(store: SQLiteStore, entity: str) -> list[list[tuple[str, float]]]:
    return [[(h.id, h.score) for h in store.search_memories(Scope(entity), text=q, limit=50)]
            for q in QUERIES]


def test_the_sql_path_scores_as_the_cache_does_through_the_entitys_own_writes(
    stores: tuple[SQLiteStore, SQLiteStore],
) -> None:
    sql, cached = stores
    rng = random.Random(5)
    sql.put_memories([Memory("a", t, created_at=float(i)) for i, t in enumerate(corpus(rng, 60))])
    first = ranked(sql, "a")
    assert any(first) and first == ranked(cached, "a")
    # the entity's own writes: a 300-word row (its size takes two varint bytes), a
    # Chinese one, a deletion; the kept row count and length follow its version
    long_row = Memory("a", " ".join(rng.choices(WORDS, k=300)), created_at=100.0)
    chinese = Memory("a", "这个蛋糕有花生吗", created_at=101.0)
    sql.put_memories([long_row, chinese, *(Memory("a", t) for t in corpus(rng, 20))])
    gone = sql.list_memories(Scope("a"))[0]
    assert sql.delete_memories(Scope("a"), [gone.id]) == 1
    second = ranked(sql, "a")
    assert second != first
    assert second == ranked(cached, "a")
    assert any(h[0] == chinese.id for h in second[QUERIES.index("花生")])
    assert all(h[0] != gone.id for hits in second for h in hits)


def test_other_tenants_rows_neither_appear_nor_move_the_scores(
    stores: tuple[SQLiteStore, SQLiteStore],
) -> None:
    sql, _ = stores
    rng = seeded(sql, 6, 40)
    before = ranked(sql, "a")
    others = [Memory(f"u{i}", t) for i in range(200) for t in corpus(rng, 5)]
    sql.put_memories(others)
    assert ranked(sql, "a") == before
    assert not {i for hits in before for i, _ in hits} & {m.id for m in others}


def test_a_forgotten_entity_made_again_is_ranked_by_its_new_rows(
    stores: tuple[SQLiteStore, SQLiteStore],
) -> None:
    sql, cached = stores
    rng = seeded(sql, 7, 30)
    ranked(sql, "a")  # its sizes kept
    sql.forget("a")
    sql.put_memories([Memory("a", t) for t in corpus(rng, 8)])
    assert ranked(sql, "a") == ranked(cached, "a")


def test_many_matching_rows_are_ranked_by_fts5_instead(
    stores: tuple[SQLiteStore, SQLiteStore], monkeypatch: pytest.MonkeyPatch,
) -> None:
    sql, _ = stores
    seeded(sql, 8, 40)
    own = [{i for i, _ in hits} for hits in ranked(sql, "a")]
    monkeypatch.setattr(fts_rank, "MAX_MATCHED", 3)
    by_fts5 = ranked(sql, "a")
    # the same rows match (the words are every row's), ranked by FTS5's own bm25()
    assert [{i for i, _ in hits} for hits in by_fts5] == own
    assert all(0.0 < s < 1.0 for hits in by_fts5 for _, s in hits)


def test_row_sizes_are_read_from_fts5_varints() -> None:
    assert fts_rank.row_size(bytes([0x0A, 0x01])) == 11
    assert fts_rank.row_size(bytes([0x82, 0x2C, 0x01])) == 301  # 300 words and the entity
    assert fts_rank.row_size(b"") == 0


WRITER = """
import sys
from memori.backends.sqlite.store import open_store
from memori.core import Memory
store = open_store(sys.argv[1], vector_dim=4)
store.put_memories([Memory("a", f"I like coffee and jazz {i}") for i in range(15)]
                   + [Memory(f"u{i}", "I like coffee on weekends") for i in range(300)])
# no close, no flush: the process simply ends
"""


def test_another_process_writing_the_entity_is_seen_by_the_sql_path(
    stores: tuple[SQLiteStore, SQLiteStore], tmp_path: Path,
) -> None:
    """The journey across processes: this process searched entity ``a`` in SQL (its
    sizes kept), another process adds to ``a`` and to 300 other users and exits; the
    next search here ranks by ``a``'s new rows, as a fresh cache does."""
    sql, cached = stores
    seeded(sql, 9, 25)
    before = ranked(sql, "a")
    done = subprocess.run([sys.executable, "-c", WRITER, str(sql.engine.url)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    after = ranked(sql, "a")
    assert after != before
    assert after == ranked(cached, "a")
    own = {m.id for m in sql.list_memories(Scope("a"))}
    assert all(i in own for hits in after for i, _ in hits)  # no other user's memory
