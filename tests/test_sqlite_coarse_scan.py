"""The SQLite cache's coarse int8 scan: it only chooses which rows to score exactly, so
large scopes rank exactly as the plain scan does, with SimSIMD and without it."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from memori.backends.sqlite import coarse
from memori.backends.sqlite.store import SQLiteStore, open_store
from memori.core import Memory, Scope, Turn

DIM = 48
ROWS = coarse.MIN_ROWS + 1000
PERSONAS = ["coach", "planner", None]

needs_simsimd = pytest.mark.skipif(not coarse.available(), reason="SimSIMD is not installed")


def _vectors(rng: np.random.Generator, n: int) -> np.ndarray:
    """Clusters of near-twins (cosines closer than int8 can tell apart), exact twins,
    zero rows and scattered rows."""
    centres = rng.standard_normal((12, DIM))
    rows = centres[rng.integers(0, 12, n)] + 0.2 * rng.standard_normal((n, DIM))
    twins = rng.integers(0, n, n // 10)
    rows[twins] = rows[twins[0]] + 1e-6 * rng.standard_normal((twins.size, DIM))
    rows[rng.integers(0, n, n // 20)] = rows[7]  # exact ties: equal cosines go by age, id
    rows[rng.integers(0, n, 5)] = 0.0
    return rows.astype(np.float32)


def _fill(s: SQLiteStore, entity: str, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    pick = random.Random(seed)
    vectors = _vectors(rng, ROWS)
    base = 1_700_000_000.0
    s.put_memories([
        Memory(entity, f"m{i}", process_id=pick.choice(PERSONAS), shared=pick.random() < 0.1,
               superseded_by="newer" if pick.random() < 0.05 else None,
               created_at=base + pick.randint(0, 50),
               embedding=tuple(float(x) for x in v))
        for i, v in enumerate(vectors)
    ])
    s.append_turns([
        Turn(entity_id=entity, session_id=pick.choice(["s1", "s2"]), role="user",
             content=f"t{i}", process_id=pick.choice(PERSONAS),
             created_at=base + pick.randint(0, 50), embedding=tuple(float(x) for x in v))
        for i, v in enumerate(vectors[: ROWS // 2 + coarse.MIN_ROWS])
    ])
    return vectors


def _filled(s: SQLiteStore, seed: int) -> tuple[np.ndarray, list[tuple[float, ...]]]:
    """The entity "e" written with the seed's rows, and queries about them."""
    vectors = _fill(s, "e", seed)
    return vectors, _queries(vectors, seed + 1)


def _queries(vectors: np.ndarray, seed: int) -> list[tuple[float, ...]]:
    rng = np.random.default_rng(seed)
    near = [vectors[i] + 0.05 * rng.standard_normal(DIM) for i in rng.integers(0, ROWS, 6)]
    picked = [vectors[7], vectors[rng.integers(0, ROWS)], np.zeros(DIM)]
    scattered = list(rng.standard_normal((4, DIM)))
    return [tuple(float(x) for x in q) for q in [*near, *picked, *scattered]]


def _searches(s: SQLiteStore, entity: str, queries: list[tuple[float, ...]]) -> list[Any]:
    out = []
    for q in queries:
        for persona in ["coach", None, "unknown"]:
            for limit in (1, 10, 50, 400):
                for history in (False, True):
                    hits = s.search_memories(Scope(entity, persona), vector=q, limit=limit,
                                             include_superseded=history)
                    out.append([(h.id, h.score) for h in hits])
            hits = s.search_turns(Scope(entity, persona), vector=q, limit=30)
            out.append([(h.id, h.score) for h in hits])
    return out


@pytest.fixture
def stores(tmp_path: Path) -> Iterator[tuple[SQLiteStore, SQLiteStore]]:
    """One file, two stores: one searching its cache, one scanning every blob."""
    url = f"sqlite:///{tmp_path / 'store.db'}"
    cached = open_store(url, vector_dim=DIM, vector_search="exact")
    plain = open_store(url, vector_dim=DIM, vector_search="exact", vector_cache_items=0)
    cached.setup()
    plain.setup()
    yield cached, plain
    cached.close()
    plain.close()


@pytest.fixture
def counted(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Rows scanned in int8, call by call (empty: the coarse scan never ran)."""
    scanned: list[int] = []
    int_dots = coarse.int_dots

    def counting(codes: Any, query_codes: Any) -> Any:
        scanned.append(len(codes))
        return int_dots(codes, query_codes)

    monkeypatch.setattr(coarse, "int_dots", counting)
    return scanned


@needs_simsimd
def test_large_scopes_rank_exactly_as_the_plain_scan(
    stores: tuple[SQLiteStore, SQLiteStore], counted: list[int],
) -> None:
    cached, plain = stores
    _, queries = _filled(cached, 3)
    got, want = _searches(cached, "e", queries), _searches(plain, "e", queries)
    assert got == want  # ids, order and scores, to the last bit
    assert counted, "the coarse scan did not run"
    assert max(counted) >= coarse.MIN_ROWS - ROWS // 3  # it scanned the large scopes


@needs_simsimd
def test_the_coarse_scan_scores_few_rows_exactly(
    stores: tuple[SQLiteStore, SQLiteStore], monkeypatch: pytest.MonkeyPatch,
) -> None:
    cached, _ = stores
    vectors = _fill(cached, "e", 5)
    chosen: list[tuple[int, int]] = []
    may_be = coarse.may_be_nearest

    def spy(*args: Any, **kwargs: Any) -> Any:
        keep = may_be(*args, **kwargs)
        chosen.append((int(keep.sum()), keep.size))
        return keep

    monkeypatch.setattr(coarse, "may_be_nearest", spy)
    near = vectors[11] + 0.05 * np.random.default_rng(6).standard_normal(DIM)
    cached.search_memories(Scope("e", "coach"), vector=tuple(float(x) for x in near), limit=10)
    (kept, visible), = chosen
    assert visible >= coarse.MIN_ROWS
    assert kept < visible / 4


@needs_simsimd
def test_writes_after_the_build_keep_the_int8_copy_current(
    stores: tuple[SQLiteStore, SQLiteStore], counted: list[int],
) -> None:
    cached, plain = stores
    _, queries = _filled(cached, 7)
    _searches(cached, "e", queries[:1])  # build the set, then change it
    rng = np.random.default_rng(9)
    changed = [Memory("e", f"m{i}", process_id="coach", created_at=1_700_000_100.0,
                      embedding=tuple(float(x) for x in rng.standard_normal(DIM)))
               for i in range(0, 400, 3)]  # replaced vectors move to the end
    cached.put_memories(changed)
    cached.put_memories([Memory("e", f"new{i}", embedding=tuple(float(x) for x in v))
                         for i, v in enumerate(rng.standard_normal((300, DIM)))])
    cached.delete_memories(Scope("e"), [f"m{i}" for i in range(1, 1500, 2)])  # reorganises
    assert _searches(cached, "e", queries) == _searches(plain, "e", queries)
    assert counted


def test_without_simsimd_the_float32_scan_answers_alone(
    stores: tuple[SQLiteStore, SQLiteStore], monkeypatch: pytest.MonkeyPatch,
    counted: list[int],
) -> None:
    monkeypatch.setattr(coarse, "SIMSIMD", None)
    cached, plain = stores
    _, queries = _filled(cached, 10)
    queries = queries[:4]
    assert _searches(cached, "e", queries) == _searches(plain, "e", queries)
    assert counted == []


@needs_simsimd
def test_near_ties_at_the_cut_are_all_scored() -> None:
    """Rows whose cosines differ by less than int8 can see, around the k-th place: the
    bound keeps them all (a row left out would change the k-th hit)."""
    rng = np.random.default_rng(12)
    base = rng.standard_normal(384).astype(np.float32)
    rows = (base + 1e-4 * rng.standard_normal((5000, 384))).astype(np.float32)
    rows[::2] = rng.standard_normal((2500, 384)).astype(np.float32)
    norms = np.linalg.norm(rows, axis=1).astype(np.float32)
    codes, scale_ratio, l1_ratio = coarse.quantize(rows, norms)
    query = base + 0.01 * rng.standard_normal(384).astype(np.float32)
    query_codes, query_scale = coarse.quantize_query(query)
    keep = coarse.may_be_nearest(coarse.int_dots(codes, query_codes), scale_ratio, l1_ratio,
                                 query, query_scale, 100)
    exact = (rows.astype(np.float64) @ query.astype(np.float64)) / (
        norms.astype(np.float64) * float(np.linalg.norm(query)))
    best = np.argsort(-exact)[:100]
    assert keep[best].all()
    assert keep[::2].sum() == 0  # the unrelated half is never scored exactly


@pytest.mark.parametrize("rows", [600, ROWS])  # the float32 scan alone; coarse first
def test_rows_scattered_by_rewrites_are_scanned_in_one_product(
    stores: tuple[SQLiteStore, SQLiteStore], monkeypatch: pytest.MonkeyPatch, rows: int,
) -> None:
    """A rewritten row moves to the end and leaves a gap (the pipeline rewrites turns as
    it marks them): the scope's rows then lie in many runs. They are multiplied in one
    product over their span (a product per run cost 0.2 ms for 50 runs), and rank as
    the plain scan does, to the last bit."""
    from memori.backends.sqlite import vector_set

    cached, plain = stores
    rng = np.random.default_rng(21)
    vectors = _vectors(rng, rows)

    def memories(ids: range, shift: float) -> list[Memory]:
        return [Memory("e", f"note {i}", id=f"m{i}", process_id="coach",
                       created_at=1_700_000_000.0 + i,
                       embedding=tuple(float(x) + shift for x in vectors[i])) for i in ids]

    cached.put_memories(memories(range(rows), 0.0))
    queries = [tuple(float(x) for x in vectors[i] + 0.05 * rng.standard_normal(DIM))
               for i in rng.integers(0, rows, 5)]
    cached.search_memories(Scope("e", "coach"), vector=queries[0], limit=10)  # builds
    cached.put_memories(memories(range(0, rows, 11), 0.01))  # each leaves a gap
    products: list[str] = []
    row_dots, int_dots = vector_set.row_dots, coarse.int_dots

    def counting_rows(matrix: Any, query: Any) -> Any:
        products.append("float32")
        return row_dots(matrix, query)

    def counting_codes(codes: Any, query_codes: Any) -> Any:
        products.append("int8")
        return int_dots(codes, query_codes)

    monkeypatch.setattr(vector_set, "row_dots", counting_rows)
    monkeypatch.setattr(coarse, "int_dots", counting_codes)
    for q in queries:
        products.clear()
        got = cached.search_memories(Scope("e", "coach"), vector=q, limit=10)
        print("DBG", products, vector_set._runs.__name__)
        # one product of each kind (the rows the int8 scan keeps are scored in float32)
        assert sorted(products) == (["float32", "int8"] if rows >= coarse.MIN_ROWS
                                    else ["float32"]), products
        want = plain.search_memories(Scope("e", "coach"), vector=q, limit=10)
        assert [(h.id, h.score) for h in got] == [(h.id, h.score) for h in want]


USER_SCRIPT = r"""
import json, sys
if sys.argv[2] == "without":
    sys.modules["simsimd"] = None  # as on a platform without its wheels
from memori import Memori
from memori.backends.sqlite import coarse

mem = Memori(sys.argv[1], embedder="hash")
mem.attribution(entity_id="ana", process_id="coach")
if sys.argv[3] == "fill":
    topics = ["running", "piano", "garden", "budget", "sister", "Lyon", "coffee", "chess"]
    mem.remember_many([f"Note {i}: the user {topics[i % 8]} {topics[(i * 7) % 8]} {i % 13}"
                       for i in range(2600)])
out = {"coarse": coarse.available(), "hits": {}}
for question in ["What about my piano?", "sister in Lyon", "how is the garden budget"]:
    hits = mem.recall(question, limit=10)
    out["hits"][question] = [(h.item.id, h.signals.get("cosine")) for h in hits]
held = mem.store._cache.vectors.get(("memories", "ana"))  # not the user's: the test's check
out["cached_rows"] = 0 if held is None else len(held)
print(json.dumps(out))
"""


@needs_simsimd
def test_a_users_script_recalls_the_same_with_and_without_simsimd(tmp_path: Path) -> None:
    """The journey: a script fills 2,600 memories (above the coarse scan's threshold)
    and recalls; a second run on the same file, without SimSIMD, recalls exactly the
    same hits with the same cosines."""
    import json
    import subprocess
    import sys

    script = tmp_path / "user.py"
    script.write_text(USER_SCRIPT)
    url = f"sqlite:///{tmp_path / 'user.db'}"

    def run(simsimd: str, step: str) -> dict[str, Any]:
        done = subprocess.run([sys.executable, str(script), url, simsimd, step],
                              capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr
        result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        return result

    coarse_run = run("with", "fill")
    plain_run = run("without", "recall")
    assert coarse_run["coarse"] is True and plain_run["coarse"] is False
    assert coarse_run["cached_rows"] >= coarse.MIN_ROWS  # searched in process, coarse first
    assert all(coarse_run["hits"].values())
    assert coarse_run["hits"] == plain_run["hits"]
