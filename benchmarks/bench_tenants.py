"""Many small tenants in one store: one user's text search in SQL, and the entity list.

Each size writes that many entities of 20 memories (short sentences from a shared
everyday vocabulary, as users' memories are). On SQLite it times a text search of a
random entity with the item cache off (an entity the in-process cache does not hold
yet, or a cache too small for every active user, is searched in SQL), two ways
taking turns query by query: FTS5's ``bm25()`` (the previous way: its idf counts
every tenant's rows holding each word) and the entity's own statistics
(``memori.backends.sqlite.fts_rank``, the default). On SQLite, and on PostgreSQL
with ``--postgres`` (``MEMORI_TEST_POSTGRES_URL`` or a bundled server), it times
the inspector's entity list: ``memori.core.entity_counts`` (the store's aggregate
queries) against counting a scan of every record (the previous way), and checks
that the two agree. Results go to ``benchmarks/results/tenants.json``.

    python benchmarks/bench_tenants.py [--entities 1000,10000,50000] [--queries 300]
    python benchmarks/bench_tenants.py --postgres --entities 1000,10000 \
        --output benchmarks/results/tenants_postgres.json
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

from memori import Memori
from memori.backends.sqlite.search import text_candidates
from memori.backends.sqlite.store import open_store
from memori.core import EntityCounts, Memory, Scope, entity_counts
from memori.core.summaries import counted

RESULTS = Path(__file__).resolve().parent / "results" / "tenants.json"
PER_ENTITY = 20
WORDS = ["coffee", "tea", "running", "hiking", "painting", "guitar", "piano", "cooking",
         "baking", "travel", "japan", "lisbon", "peanuts", "allergy", "dog", "cat", "garden",
         "books", "movies", "chess", "yoga", "swimming", "cycling", "python", "music", "jazz"]
QUERIES = ("Do I like coffee on weekends?", "what music do I play", "any allergies?",
           "where did I travel last year", "what do I do on weekends")


def sentence(rng: random.Random) -> str:
    return f"I like {rng.choice(WORDS)} and {rng.choice(WORDS)} on weekends with friends"


def populate(store: Any, start: int, entities: int, rng: random.Random) -> float:
    """Entities ``start`` .. ``entities - 1``, 20 memories each; seconds taken."""
    began = time.perf_counter()
    batch: list[Memory] = []
    for e in range(start, entities):
        batch.extend(Memory(f"u{e}", sentence(rng)) for _ in range(PER_ENTITY))
        if len(batch) >= 5000:
            store.put_memories(batch)
            batch = []
    if batch:
        store.put_memories(batch)
    return time.perf_counter() - began


def entity_list(store: Any) -> dict[str, Any]:
    """The entity list both ways: the store's counts, and a scan counted."""
    began = time.perf_counter()
    counts = entity_counts(store)
    counted_s = time.perf_counter() - began
    began = time.perf_counter()
    scanned = counted(store.scan())
    scanned_s = time.perf_counter() - began
    return {"entity_counts_s": round(counted_s, 3), "scan_counted_s": round(scanned_s, 2),
            "equal": sorted(counts, key=_entity) == sorted(scanned, key=_entity)}


def _entity(counts: EntityCounts) -> str:
    return counts.entity_id


def run_size(entities: int, queries: int, workdir: Path, rng: random.Random) -> dict[str, Any]:
    url = f"sqlite:///{workdir / f'tenants-{entities}.db'}"
    store = open_store(url, vector_dim=4, item_cache_items=0)
    store.setup()
    ingest_s = populate(store, 0, entities, rng)
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
    listed = entity_list(store)
    store.close()
    return {"entities": entities, "memories": entities * PER_ENTITY,
            "ingest_s": round(ingest_s, 1), "entity_list": listed,
            **{name: latency_summary(values) for name, values in times.items()},
            "speedup_p50": round(statistics.median(times["fts5_bm25"])
                                 / statistics.median(times["entity_statistics"]), 1)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entities", default="1000,10000,50000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--postgres", action="store_true",
                        help="the entity list on PostgreSQL instead (no text search rows)")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    rng = random.Random(1)
    sizes = [int(x) for x in args.entities.split(",") if x.strip()]
    if args.postgres:
        return run_postgres(sizes, rng, args.output)
    rows = []
    with tempfile.TemporaryDirectory(prefix="memori-tenants-") as tmp:
        for n in sizes:
            rows.append(run_size(n, args.queries, Path(tmp), rng))
            print(f"  {n} entities done", file=sys.stderr)
    print_table(["entities", "memories", "FTS5 bm25 p50 / p95 ms",
                 "entity statistics p50 / p95 ms", "p50 ratio"],
                [[r["entities"], r["memories"],
                  f"{r['fts5_bm25']['p50_ms']} / {r['fts5_bm25']['p95_ms']}",
                  f"{r['entity_statistics']['p50_ms']} / {r['entity_statistics']['p95_ms']}",
                  r["speedup_p50"]] for r in rows])
    print_list_table(rows)
    write_result(args.output, {"benchmark": "sqlite-tenants-text-search",
                               "per_entity": PER_ENTITY, "results": rows,
                               "machine": machine_info()})
    print(f"wrote {args.output}")
    return 0


def print_list_table(rows: list[dict[str, Any]]) -> None:
    print_table(["entities", "memories", "entity list: entity_counts s", "a scan counted s",
                 "equal"],
                [[r["entities"], r["memories"], r["entity_list"]["entity_counts_s"],
                  r["entity_list"]["scan_counted_s"], r["entity_list"]["equal"]] for r in rows])


def run_postgres(sizes: list[int], rng: random.Random, output: Path) -> int:
    """The entity list on PostgreSQL, the sizes grown one after the other."""
    from memori.testing.postgres_server import postgres_server

    rows = []
    with postgres_server() as url:
        store = Memori(url, embedder="hash", extractor=None).store
        done = 0
        for n in sizes:
            ingest_s = populate(store, done, n, rng)
            done = n
            rows.append({"entities": n, "memories": n * PER_ENTITY,
                         "ingest_s": round(ingest_s, 1), "entity_list": entity_list(store)})
            print(f"  {n} entities done", file=sys.stderr)
        store.close()
    print_list_table(rows)
    write_result(output, {"benchmark": "postgres-tenants-entity-list",
                          "per_entity": PER_ENTITY, "results": rows,
                          "machine": machine_info()})
    print(f"wrote {output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
