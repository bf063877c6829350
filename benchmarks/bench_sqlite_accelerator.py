"""Benchmark the SQLite store's in-process accelerator as recall uses it: caches on and off.

Two data sets, each in its own file: one entity with 10,000 memories (and 2,000
turns), and 100 entities with 1,000 memories (and 100 turns) each. Memories and
turns have words (FTS5 and the item cache rank them) and 384-dimension vectors.
One round is what the default retriever asks of the store for one recall:
``search_memories`` and ``search_turns`` with the same text and vector (limit 20),
then ``recent_turns`` of a session (limit 10). Each variant is a store of its own
on the same file, with ``vector_cache_items`` / ``item_cache_items`` at their
defaults or 0; the variants take turns, round by round (the machine is shared),
after a warm-up, on a random entity each round.

Run: ``python benchmarks/bench_sqlite_accelerator.py [--rounds 300] [--datasets ...]``.
Prints p50 / p95 in ms and writes ``benchmarks/results/sqlite_accelerator.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from memori.backends.sqlite.store import SQLiteStore, open_store
from memori.core import Memory, Scope, Turn

RESULTS = Path(__file__).resolve().parent / "results" / "sqlite_accelerator.json"
PERSONA = "coach"
DIM = 384
VOCABULARY = 3000
SESSIONS = 20
VARIANTS: dict[str, dict[str, Any]] = {
    "caches on (default)": {},
    "vector cache only": {"item_cache_items": 0},
    "item cache only": {"vector_cache_items": 0},
    "caches off": {"vector_cache_items": 0, "item_cache_items": 0},
}
DATASETS = {"1 entity x 10k": (1, 10_000, 2_000), "100 entities x 1k": (100, 1_000, 100)}


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def words(rng: np.random.Generator, n: int, skip: int = 0) -> str:
    """``n`` words, Zipf-distributed; a query skips the ``skip`` most common ones
    (the retriever drops stopwords)."""
    ranks = np.minimum(rng.zipf(1.3, 4 * n), VOCABULARY)
    return " ".join(f"w{r}" for r in ranks[ranks > skip][:n])


def vectors(rng: np.random.Generator, n: int) -> list[tuple[float, ...]]:
    v = rng.standard_normal((n, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return [tuple(row) for row in v.tolist()]


def populate(url: str, entities: int, memories: int, turns: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    store = open_store(url, vector_dim=DIM, vector_search="exact", vector_cache_items=0,
                       item_cache_items=0)
    store.setup()
    personas = [PERSONA, "planner", None]
    t0 = 1_700_000_000.0
    for e in range(entities):
        entity = f"user-{e}"
        mvecs, tvecs = vectors(rng, memories), vectors(rng, turns)
        store.put_memories([
            Memory(entity, words(rng, 12), process_id=personas[i % 3], shared=i % 10 == 1,
                   created_at=t0 + i, embedding=mvecs[i]) for i in range(memories)])
        store.append_turns([
            Turn(entity, f"s{i % SESSIONS}", "user", words(rng, 20), process_id=PERSONA,
                 created_at=t0 + i, embedding=tvecs[i]) for i in range(turns)])
    store.close()


def recall_round(store: SQLiteStore, entity: str, text: str, vector: tuple[float, ...],
                 session: str) -> dict[str, float]:
    """The store calls of one recall, timed (ms): memories, turns, recent turns."""
    scope = Scope(entity, PERSONA)
    out: dict[str, float] = {}
    calls: dict[str, Callable[[], Any]] = {
        "search_memories": lambda: store.search_memories(scope, text=text, vector=vector,
                                                         limit=20),
        "search_turns": lambda: store.search_turns(scope, text=text, vector=vector, limit=20),
        "recent_turns": lambda: store.recent_turns(scope.with_session(session), limit=10),
    }
    for name, call in calls.items():
        start = time.perf_counter()
        call()
        out[name] = (time.perf_counter() - start) * 1000.0
    out["round"] = sum(out.values())
    return out


def run(url: str, entities: int, rounds: int, warmup: int, seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed + 1)
    stores = {name: open_store(url, vector_dim=DIM, vector_search="exact", **options)
              for name, options in VARIANTS.items()}
    samples: dict[str, dict[str, list[float]]] = {name: {} for name in stores}
    order = list(stores)
    qvecs = vectors(rng, warmup + rounds)
    for r in range(warmup + rounds):
        # warm-up: each entity in turn, past item_cache_after; then random entities
        entity = f"user-{r % entities if r < warmup else rng.integers(entities)}"
        text, session = words(rng, 6, skip=30), f"s{rng.integers(SESSIONS)}"
        order = order[1:] + order[:1]  # each variant goes first in turn
        for name in order:
            timed = recall_round(stores[name], entity, text, qvecs[r], session)
            if r >= warmup:
                for key, ms in timed.items():
                    samples[name].setdefault(key, []).append(ms)
    for store in stores.values():
        store.close()
    return {name: {key: {"p50_ms": round(statistics.median(v), 3),
                         "p95_ms": round(percentile(v, 0.95), 3)} for key, v in by.items()}
            for name, by in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--datasets", default=",".join(DATASETS),
                        help="comma-separated, of: " + ", ".join(DATASETS))
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    chosen = args.datasets.split(",")
    report: dict[str, Any] = {"dim": DIM, "rounds": args.rounds, "cpus": os.cpu_count(),
                              "load_average_1m_at_start": round(os.getloadavg()[0], 2)}
    with tempfile.TemporaryDirectory(prefix="memori-bench-") as tmp:
        for n, label in enumerate(chosen):
            entities, memories, turns = DATASETS[label]
            url = f"sqlite:///{Path(tmp) / f'bench-{n}.db'}"
            populate(url, entities, memories, turns, args.seed)
            warmup = 5 * entities
            report[label] = run(url, entities, args.rounds, warmup, args.seed)
            for name, figures in report[label].items():
                cells = "  ".join(f"{k} {v['p50_ms']:.2f}/{v['p95_ms']:.2f}"
                                  for k, v in figures.items())
                print(f"{label:18} {name:20} {cells}")
    report["load_average_1m_at_end"] = round(os.getloadavg()[0], 2)
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()
