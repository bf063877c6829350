"""Many small tenants on one SQLite file: what one user's text search costs in SQL.

An entity the in-process cache does not hold yet (its first searches, or a cache
too small for every active user) is searched in SQL. Each size writes that many
entities of 20 memories (short sentences from a shared everyday vocabulary, as
users' memories are), then times a text search of a random entity, with the item
cache off, two ways taking turns query by query: FTS5's ``bm25()`` (the previous
way: its idf counts every tenant's rows holding each word) and the entity's own
statistics (``memori.backends.sqlite.fts_rank``, the default). Results go to
``benchmarks/results/tenants.json``.

    python benchmarks/bench_tenants.py [--entities 1000,10000,50000] [--queries 300]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import latency_summary, machine_info, print_table, write_result

from memori.backends.sqlite.search import text_candidates
from memori.backends.sqlite.store import open_store
from memori.core import Memory, Scope

RESULTS = Path(__file__).resolve().parent / "results" / "tenants.json"
PER_ENTITY = 20
WORDS = ["coffee", "tea", "running", "hiking", "painting", "guitar", "piano", "cooking",
         "baking", "travel", "japan", "lisbon", "peanuts", "allergy", "dog", "cat", "garden",
         "books", "movies", "chess", "yoga", "swimming", "cycling", "python", "music", "jazz"]
QUERIES = ("Do I like coffee on weekends?", "what music do I play", "any allergies?",
           "where did I travel last year", "what do I do on weekends")


def sentence(rng: random.Random) -> str:
    return f"I like {rng.choice(WORDS)} and {rng.choice(WORDS)} on weekends with friends"


def run_size(entities: int, queries: int, workdir: Path, rng: random.Random) -> dict[str, Any]:
    url = f"sqlite:///{workdir / f'tenants-{entities}.db'}"
    store = open_store(url, vector_dim=4, item_cache_items=0)
    store.setup()
    began = time.perf_counter()
    batch: list[Memory] = []
    for e in range(entities):
        batch.extend(Memory(f"u{e}", sentence(rng)) for _ in range(PER_ENTITY))
        if len(batch) >= 5000:
            store.put_memories(batch)
            batch = []
    if batch:
        store.put_memories(batch)
    ingest_s = time.perf_counter() - began
    table = store._memories

    def fts5(scope: Scope, text: str) -> Any:
        with store._read() as conn:
            return text_candidates(conn, table, lambda entity: table.c.entity_id == entity,
                                   scope.entity_id, text, 20)

    def own(scope: Scope, text: str) -> Any:
        return store.search_memories(scope, text=text, limit=20)

    times: dict[str, list[float]] = {"fts5_bm25": [], "entity_statistics": []}
    ways = [("fts5_bm25", fts5), ("entity_statistics", own)]
    for i in range(queries):
        scope, text = Scope(f"u{rng.randrange(entities)}"), QUERIES[i % len(QUERIES)]
        for name, way in ways if i % 2 else reversed(ways):
            start = time.perf_counter()
            way(scope, text)
            times[name].append((time.perf_counter() - start) * 1000)
    store.close()
    return {"entities": entities, "memories": entities * PER_ENTITY,
            "ingest_s": round(ingest_s, 1),
            **{name: latency_summary(values) for name, values in times.items()},
            "speedup_p50": round(statistics.median(times["fts5_bm25"])
                                 / statistics.median(times["entity_statistics"]), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", default="1000,10000,50000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    rng = random.Random(1)
    rows = []
    with tempfile.TemporaryDirectory(prefix="memori-tenants-") as tmp:
        for n in (int(x) for x in args.entities.split(",") if x.strip()):
            rows.append(run_size(n, args.queries, Path(tmp), rng))
            print(f"  {n} entities done", file=sys.stderr)
    print_table(["entities", "memories", "FTS5 bm25 p50 / p95 ms",
                 "entity statistics p50 / p95 ms", "p50 ratio"],
                [[r["entities"], r["memories"],
                  f"{r['fts5_bm25']['p50_ms']} / {r['fts5_bm25']['p95_ms']}",
                  f"{r['entity_statistics']['p50_ms']} / {r['entity_statistics']['p95_ms']}",
                  r["speedup_p50"]] for r in rows])
    write_result(args.output, {"benchmark": "sqlite-tenants-text-search",
                               "per_entity": PER_ENTITY, "results": rows,
                               "machine": machine_info()})
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
