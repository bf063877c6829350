"""Benchmark vector search on the SQLite backend: in-process cache on and off, both paths.

One entity holds N memories and N turns (other entities hold more rows in the same
tables); a persona sees about two thirds of the memories and half the turns.
For N in ``--sizes`` and each of sqlite-vec / exact scan, cache on / off, it times
``search_memories(vector=...)`` and ``search_turns(vector=...)`` (limit 10, one of
each per round, as the LLM path asks them), the first search (which builds the
cache from one scan), and searches right after two turns and a memory were
written by the same store or by another connection (the cache then reads the
changed items back from the change log).

Run: ``python benchmarks/bench_sqlite_vectors.py [--sizes 10000,100000] [--queries 300]``.
Prints a table and writes ``benchmarks/results/sqlite_vectors.json``. The machine is
shared: wall-clock figures come with the calling thread's CPU time and the load average.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from memori.backends.sqlite.connection import extension_driver, sqlite_vec_module
from memori.backends.sqlite.store import SQLiteStore, open_store
from memori.core import Memory, Scope, Turn

RESULTS = Path(__file__).resolve().parent / "results" / "sqlite_vectors.json"
ENTITY = "bench-user"
PERSONA = "coach"
OTHER_ENTITIES = 4
BATCH = 5000


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(percentile(samples, 0.95), 3),
        "mean_ms": round(statistics.fmean(samples), 3),
    }


def load() -> float:
    return round(os.getloadavg()[0], 2)


def unit_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray[Any, Any]:
    v = rng.standard_normal((n, dim)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def populate(url: str, n: int, dim: int, seed: int) -> dict[str, Any]:
    """N memories and N turns for ENTITY, N/2 of each spread over other entities."""
    rng = np.random.default_rng(seed)
    start = time.perf_counter()
    personas = [PERSONA, "planner", None]
    store = open_store(url, vector_dim=dim, vector_search="exact", vector_cache_items=0)
    store.setup()
    owners = [(ENTITY, n)] + [(f"other-{i}", n // (2 * OTHER_ENTITIES))
                              for i in range(OTHER_ENTITIES)]
    for entity, count in owners:
        for lo in range(0, count, BATCH):
            size = min(BATCH, count - lo)
            vecs = unit_vectors(rng, 2 * size, dim).tolist()
            memories = []
            for j in range(size):
                i = lo + j
                memories.append(Memory(
                    entity, f"memory {i} of {entity}", process_id=personas[i % 3],
                    shared=i % 10 == 1, created_at=1_700_000_000.0 + i,
                    superseded_by="newer" if i % 20 == 0 else None,
                    embedding=tuple(vecs[j]),
                ))
            store.put_memories(memories)
            store.append_turns([
                Turn(entity, f"session-{(lo + j) % 100}", "user", f"turn {lo + j}",
                     process_id=personas[(lo + j) % 2], created_at=1_700_000_000.0 + lo + j,
                     embedding=tuple(vecs[size + j]))
                for j in range(size)
            ])
    visible_memories = store.count_memories(Scope(ENTITY, PERSONA))
    visible_turns = store.count_turns(Scope(ENTITY, PERSONA))
    store.close()
    return {"seconds": round(time.perf_counter() - start, 1),
            "visible_memories": visible_memories, "visible_turns": visible_turns}


def timed(call: Callable[[list[float]], Any], query: list[float]) -> tuple[float, float]:
    """Wall and calling-thread CPU milliseconds of one ``call(query)``."""
    wall, cpu = time.perf_counter(), time.thread_time()
    call(query)
    return (time.perf_counter() - wall) * 1000.0, (time.thread_time() - cpu) * 1000.0


def run_config(
    url: str, dim: int, path: str, cache_items: int, queries: int, seed: int,
    budget_s: float, rounds: int,
) -> dict[str, Any]:
    rng = np.random.default_rng(seed + 1)  # not the stored vectors' generator
    qs = unit_vectors(rng, queries + 1, dim).tolist()
    store = open_store(url, vector_dim=dim, vector_search=path, vector_cache_items=cache_items)
    other = open_store(url, vector_dim=dim, vector_search="exact", vector_cache_items=0)
    store.setup()
    scope = Scope(ENTITY, PERSONA)
    searches: dict[str, Callable[[list[float]], Any]] = {
        "memories": lambda q: store.search_memories(scope, vector=q, limit=10),
        "turns": lambda q: store.search_turns(scope, vector=q, limit=10),
    }
    out: dict[str, Any] = {"path": store.vector_path, "cache": cache_items > 0,
                           "cache_items": cache_items, "load_average_1m_start": load()}
    out["first_search_ms"] = {k: round(timed(f, qs[0])[0], 2) for k, f in searches.items()}
    walls: dict[str, list[float]] = {"memories": [], "turns": []}
    cpus: dict[str, list[float]] = {"memories": [], "turns": []}
    deadline = time.perf_counter() + budget_s
    for q in qs[1:]:
        for kind, search in searches.items():
            wall, cpu = timed(search, q)
            walls[kind].append(wall)
            cpus[kind].append(cpu)
        if time.perf_counter() > deadline:
            break
    for kind in walls:
        out[kind] = {**summary(walls[kind]), "cpu_p50_ms": round(statistics.median(cpus[kind]), 3),
                     "queries": len(walls[kind])}
    # as the LLM path goes: two turns and a memory written between searches, by this
    # store or by another process's connection
    phases = (("after_own_write", store), ("after_other_connection_write", other))
    for phase, (label, writer) in enumerate(phases):
        after: dict[str, list[float]] = {"memories": [], "turns": []}
        for r in range(rounds):
            q = qs[1 + (phase * rounds + r) % queries]
            writer.append_turns([
                Turn(ENTITY, "session-0", "user", f"{label} {r} {i}", process_id=PERSONA,
                     embedding=tuple(q)) for i in range(2)])
            writer.put_memories([Memory(ENTITY, f"{label} {r}", process_id=PERSONA,
                                        embedding=tuple(q))])
            for kind, search in searches.items():
                after[kind].append(timed(search, q)[0])
            hits = store.search_turns(scope, vector=q, limit=1)
            assert hits and hits[0].content.startswith(f"{label} {r} "), "a write was missed"
        out[label] = {kind: summary(v) for kind, v in after.items()}
    out["cache_stats"] = store.admin_stats()["vector_cache"]
    out["load_average_1m_end"] = load()
    _undo(store)
    other.close()
    store.close()
    return out


def _undo(store: SQLiteStore) -> None:
    """Remove the rows a configuration wrote, so every configuration sees the same data."""
    store.delete_turns(Scope(ENTITY, PERSONA, "session-0"), [
        t.id for t in store.list_turns(Scope(ENTITY, PERSONA, "session-0"))
        if t.content.startswith("after_")])
    store.delete_memories(Scope(ENTITY, PERSONA), [
        m.id for m in store.list_memories(Scope(ENTITY, PERSONA))
        if m.content.startswith("after_")])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--dim", type=int, default=384)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--budget", type=float, default=30.0,
                        help="seconds of timed queries per configuration at most")
    parser.add_argument("--rounds", type=int, default=30,
                        help="write-then-search rounds per configuration")
    args = parser.parse_args()
    has_vec = extension_driver() is not None and sqlite_vec_module() is not None
    paths = ["sqlite-vec", "exact"] if has_vec else ["exact"]
    report: dict[str, Any] = {
        "dim": args.dim, "limit": 10, "persona": PERSONA, "queries": args.queries,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "sqlite": sqlite3.sqlite_version, "numpy": np.__version__,
                    "load_average_1m_at_start": load()},
        "sizes": {},
    }
    rows = []
    with tempfile.TemporaryDirectory(prefix="memori-bench-") as tmp:
        for n in (int(s) for s in args.sizes.split(",")):
            url = f"sqlite:///{Path(tmp) / f'bench-{n}.db'}"
            data = populate(url, n, args.dim, args.seed)
            # room for an entity's memories and turns at this size (the default bound is
            # 200,000 vectors and caches a kind of an entity up to half of it)
            items = max(200_000, int(2.5 * n))
            entry: dict[str, Any] = {"data": data, "cache_items": items, "runs": []}
            for path in paths:
                for cache in (items, 0):
                    result = run_config(url, args.dim, path, cache, args.queries, args.seed,
                                        args.budget, args.rounds)
                    entry["runs"].append(result)
                    for kind in ("memories", "turns"):
                        r = result[kind]
                        rows.append((n, path, "on" if cache else "off", kind, r["p50_ms"],
                                     r["p95_ms"], r["cpu_p50_ms"],
                                     result["first_search_ms"][kind],
                                     result["after_own_write"][kind]["p50_ms"],
                                     result["after_other_connection_write"][kind]["p50_ms"],
                                     r["queries"], result["load_average_1m_end"]))
            report["sizes"][str(n)] = entry
            os.remove(url.removeprefix("sqlite:///"))
    report["machine"]["load_average_1m_at_end"] = load()
    headers = ("N", "path", "cache", "search", "p50 ms", "p95 ms", "cpu p50", "first ms",
               "own write p50", "other write p50", "queries", "load")
    widths = [max(len(str(h)), *(len(str(r[i])) for r in rows)) for i, h in enumerate(headers)]
    print("  ".join(str(h).rjust(w) for h, w in zip(headers, widths, strict=True)))
    for r in rows:
        print("  ".join(str(c).rjust(w) for c, w in zip(r, widths, strict=True)))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = RESULTS.with_suffix(".json.tmp")
    tmp_path.write_text(json.dumps(report, indent=2) + "\n")
    tmp_path.replace(RESULTS)
    print(f"wrote benchmarks/results/{RESULTS.name}")


if __name__ == "__main__":
    main()
