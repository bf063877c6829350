"""PostgreSQL at scale: bulk ingest rate and recall latency at 10k, 100k and 1M memories.

Memories belong to many entities (``--per-entity`` each, default 1,000), carry a
sentence of 8-20 words (Zipf-distributed over a 5,000-word vocabulary) and a
384-dimension unit vector (the local embedder's size) near a 24-dimension
subspace, like text embeddings. Ingest goes through ``put_memories`` in
batches (the COPY path); recall is timed through the store's public API
(``search_memories``: vector, text, and both fused) for random entities, so the
figures include Python, the driver and the round trip.

    python benchmarks/bench_postgres_scale.py --sizes 10000,100000,1000000

Without ``--url`` (or ``MEMORI_TEST_POSTGRES_URL``) a throwaway PostgreSQL 16 with
pgvector from the ``pgserver`` wheel is started (durable settings: fsync on).
``--hnsw-entity N`` adds one entity of N memories and times it with and without
the HNSW index (built after the load, as a bulk import would).
Results: a table on stdout and ``benchmarks/results/postgres_scale.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import create_engine, text

from memori.backends.postgres.layout import quote_ident
from memori.backends.postgres.store import PostgresStore, open_store
from memori.core import Memory, Scope
from memori.testing.postgres_server import URL_ENV, start_bundled

RESULTS = Path(__file__).resolve().parent / "results" / "postgres_scale.json"
DIM = 384
VOCABULARY = 5000
BATCH = 5000
SERVER_SETTINGS = {
    "shared_buffers": "2GB",
    "maintenance_work_mem": "1GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
    "max_connections": "50",
}


def _words(rng: np.random.Generator) -> list[str]:
    syllables = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "zi", "pe", "su", "da", "gu"]
    out: set[str] = set()
    while len(out) < VOCABULARY:
        out.add("".join(rng.choice(syllables, size=int(rng.integers(2, 5)))))
    return sorted(out)


def _zipf_indexes(rng: np.random.Generator, n: int) -> np.ndarray[Any, Any]:
    return np.minimum(rng.zipf(1.3, size=n) - 1, VOCABULARY - 1)


LATENT = 24
"""Vectors live near a 24-dimension subspace, as text embeddings do (uniformly random
384-dimension vectors have no near neighbours at all: every graph index fails on them)."""
_PROJECTION = np.random.default_rng(12345).standard_normal((LATENT, DIM)).astype(np.float32)


def _unit(rng: np.random.Generator, n: int) -> np.ndarray[Any, Any]:
    """Unit vectors: a random point of the latent space, projected, plus a little noise."""
    latent = rng.standard_normal((n, LATENT)).astype(np.float32)
    v = latent @ _PROJECTION + 0.35 * rng.standard_normal((n, DIM)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def memories(total: int, per_entity: int, seed: int, tag: str) -> Iterator[list[Memory]]:
    """Batches of memories: entity ``tag-e<i>`` holds ``per_entity`` of them."""
    rng = np.random.default_rng(seed)
    vocab = _words(rng)
    made = 0
    while made < total:
        n = min(BATCH, total - made)
        vecs = _unit(rng, n)
        lengths = rng.integers(8, 21, size=n)
        words = _zipf_indexes(rng, int(lengths.sum()))
        batch, pos = [], 0
        for i in range(n):
            k = made + i
            text_ = " ".join(vocab[w] for w in words[pos:pos + lengths[i]])
            pos += int(lengths[i])
            batch.append(Memory(
                entity_id=f"{tag}-e{k // per_entity}", content=text_,
                process_id=None if k % 3 else "coach", created_at=1.7e9 + k,
                embedding=tuple(vecs[i].tolist()),
            ))
        made += n
        yield batch


def ingest(store: PostgresStore, total: int, per_entity: int, tag: str) -> float:
    """Memories per second through ``put_memories`` (batches of ``BATCH``).

    Only ``put_memories`` is timed: building the ``Memory`` objects is the
    application's work (here: random text and vectors), not the store's.
    """
    spent = 0.0
    for batch in memories(total, per_entity, seed=sum(map(ord, tag)), tag=tag):
        started = time.perf_counter()
        store.put_memories(batch)
        spent += time.perf_counter() - started
    return total / spent


def _summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))], 3),
        "mean_ms": round(statistics.fmean(ordered), 3),
    }


def recall(
    store: PostgresStore, entities: list[str], queries: int, seed: int
) -> dict[str, dict[str, float]]:
    """Latency of vector, text and fused searches for random entities (limit 10)."""
    rng = np.random.default_rng(seed)
    vocab = _words(np.random.default_rng(0))
    timings: dict[str, list[float]] = {"vector": [], "text": [], "hybrid": []}
    for _ in range(queries):
        entity = entities[int(rng.integers(0, len(entities)))]
        scope = Scope(entity, "coach")
        q = tuple(_unit(rng, 1)[0].tolist())
        words = " ".join(vocab[int(i)] for i in _zipf_indexes(rng, 3))
        for mode, kwargs in (("vector", {"vector": q}), ("text", {"text": words}),
                             ("hybrid", {"vector": q, "text": words})):
            t0 = time.perf_counter()
            store.search_memories(scope, limit=10, **kwargs)  # type: ignore[arg-type]
            timings[mode].append((time.perf_counter() - t0) * 1000)
    return {mode: _summary(samples) for mode, samples in timings.items()}


def _analyze(url: str, schema: str) -> None:
    engine = create_engine(url)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT")
        for table in ("memori_memories", "memori_turns"):
            conn.execute(text(f"VACUUM ANALYZE {quote_ident(schema)}.{quote_ident(table)}"))
    engine.dispose()


def run_size(url: str, size: int, per_entity: int, queries: int) -> dict[str, Any]:
    schema = f"bench_{size}_{uuid.uuid4().hex[:6]}"
    store = open_store(url, vector_dim=DIM, schema=schema)
    store.setup()
    try:
        tag = f"s{size}"
        rate = ingest(store, size, per_entity, tag)
        _analyze(url, schema)
        entities = [f"{tag}-e{i}" for i in range((size + per_entity - 1) // per_entity)]
        store.search_memories(Scope(entities[0]), text="warm up")
        latencies = recall(store, entities, queries, seed=size)
        return {"memories": size, "entities": len(entities), "per_entity": per_entity,
                "ingest_per_s": round(rate), "recall": latencies, "schema": schema}
    finally:
        store.close()


def _vector_queries(n: int, seed: int) -> list[tuple[float, ...]]:
    rng = np.random.default_rng(seed)
    return [tuple(v.tolist()) for v in _unit(rng, n)]


def _timed_vectors(
    store: PostgresStore, scope: Scope, queries: list[tuple[float, ...]]
) -> tuple[dict[str, float], list[list[str]]]:
    samples, found = [], []
    for q in queries:
        t0 = time.perf_counter()
        hits = store.search_memories(scope, vector=q, limit=10)
        samples.append((time.perf_counter() - t0) * 1000)
        found.append([h.id for h in hits])
    return _summary(samples), found


def run_hnsw(url: str, schema: str, n: int, queries: int) -> dict[str, Any]:
    """One entity of ``n`` memories in ``schema``: exact scan vs the HNSW index.

    Recall@10 compares the graph's ten nearest with the exact ten (random unit
    vectors: a hard case for any graph index; text embeddings cluster and do better).
    """
    store = open_store(url, vector_dim=DIM, schema=schema)
    store.setup()
    rate = ingest(store, n, n, "big")
    store.close()
    _analyze(url, schema)
    scope = Scope("big-e0", "coach")
    qs = _vector_queries(min(queries, 100), seed=7)
    out: dict[str, Any] = {"entity_memories": n, "ingest_per_s": round(rate)}
    exact = open_store(url, vector_dim=DIM, schema=schema)
    out["exact"], truth = _timed_vectors(exact, scope, qs)
    exact.close()
    builder = open_store(url, vector_dim=DIM, schema=schema, vector_index="hnsw")
    t0 = time.perf_counter()
    builder.setup()
    out["hnsw_build_s"] = round(time.perf_counter() - t0, 1)
    builder.close()
    _analyze(url, schema)
    for ef in (40, 100, 200):
        hnsw = open_store(url, vector_dim=DIM, schema=schema, vector_index="hnsw",
                          hnsw_ef_search=ef)
        summary, got = _timed_vectors(hnsw, scope, qs)
        hnsw.close()
        overlap = [len(set(g) & set(t)) / max(1, len(t)) for g, t in zip(got, truth, strict=True)]
        out[f"hnsw_ef{ef}"] = {**summary, "recall_at_10": round(statistics.fmean(overlap), 3)}
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,100000,1000000",
                        help="comma-separated memory counts (default 10k, 100k, 1M)")
    parser.add_argument("--per-entity", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--hnsw-entity", type=int, default=0,
                        help="also time one entity of N memories, exact vs HNSW")
    parser.add_argument("--url", default=os.environ.get(URL_ENV),
                        help=f"an existing server (default: ${URL_ENV} or a bundled one)")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark schemas")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",") if s]
    server = None if args.url else start_bundled(SERVER_SETTINGS)
    url = args.url or (server.url if server else "")
    results: dict[str, Any] = {
        "benchmark": "postgres_scale", "dim": DIM, "batch": BATCH, "limit": 10,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": f"{platform.system()} {platform.machine()}"},
        "server": "bundled PostgreSQL 16 + pgvector 0.6 (pgserver wheel)" if server
                  else "given by --url", "settings": SERVER_SETTINGS if server else None,
        "command": "python benchmarks/bench_postgres_scale.py " + " ".join(argv or sys.argv[1:]),
        "runs": [],
        "load_average_before": _load(),
    }
    schemas: list[str] = []
    try:
        for size in sizes:
            run = run_size(url, size, args.per_entity, args.queries)
            schemas.append(run.pop("schema"))
            results["runs"].append(run)
            _print_run(run)
        if args.hnsw_entity:
            schema = f"bench_hnsw_{uuid.uuid4().hex[:6]}"
            schemas.append(schema)
            results["hnsw_entity"] = run_hnsw(url, schema, args.hnsw_entity, args.queries)
            print(json.dumps(results["hnsw_entity"], indent=2))
    finally:
        if not args.keep and url:
            _drop(url, schemas)
        if server is not None:
            server.stop()
    results["load_average_after"] = _load()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"written: {args.out.name}")
    return 0


def _load() -> list[float] | None:
    """The 1, 5 and 15 minute load averages (other work on the machine skews latencies)."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _drop(url: str, schemas: list[str]) -> None:
    engine = create_engine(url)
    with engine.begin() as conn:
        for schema in schemas:
            conn.execute(text(f"DROP SCHEMA IF EXISTS {quote_ident(schema)} CASCADE"))
    engine.dispose()


def _print_run(run: dict[str, Any]) -> None:
    if run["memories"] == min(run["memories"], 10_000):
        print(f"{'memories':>10} {'entities':>8} {'ingest/s':>9}  "
              f"{'vector p50/p95 ms':>18}  {'text p50/p95 ms':>16}  {'hybrid p50/p95 ms':>18}")
    r = run["recall"]
    cells = [f"{r[m]['p50_ms']:.2f} / {r[m]['p95_ms']:.2f}" for m in ("vector", "text", "hybrid")]
    print(f"{run['memories']:>10} {run['entities']:>8} {run['ingest_per_s']:>9}  "
          f"{cells[0]:>18}  {cells[1]:>16}  {cells[2]:>18}", flush=True)


if __name__ == "__main__":
    raise SystemExit(main())
