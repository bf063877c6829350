"""Scale: bulk ingest rate and recall latency against the number of memories, per backend.

Run: ``python benchmarks/bench_scale.py [--sizes 1000,10000,100000] [--backends ...]``.
Backends: ``sqlite-vec`` and ``sqlite-exact`` (the two SQLite vector paths), ``mongo``
(``MEMORI_TEST_MONGO_URL`` or the ``secantusdb`` wire-protocol server that
``memori.testing.mongo_server`` starts on 127.0.0.1), ``qdrant-memory`` and
``qdrant-path`` (qdrant-client's local mode, in memory or persisted to a directory).
PostgreSQL has its own benchmark.

By default all memories belong to one entity (the worst case for a scoped
search); ``--per-entity N`` spreads them over entities of N memories each and
queries random loaded entities. Memories are written with ``put_memories`` in
batches of 1,000; texts are synthetic sentences
over a Zipf-distributed vocabulary and vectors random unit vectors of 384
dimensions (the local embedder's size; the embedder is measured elsewhere).
Sizes grow cumulatively; at each size the default ``HybridRetriever`` is timed (its
reads shared, ``memori.core.shared_reads``, as ``mem.recall()`` reads)
with a precomputed query vector, as are the store's own text and vector searches,
and once more with each query embedded by the local model (``LocalEmbedder``, no
query cache), which is what ``mem.recall()`` runs.
Each backend runs in a child process so that its peak RSS is its own.
Prints a table and writes ``benchmarks/results/scale.json``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np
from _common import (
    RESULTS_DIR,
    latency_summary,
    machine_info,
    peak_rss_mb,
    print_table,
    write_result,
)

from memori.config import open_backend
from memori.core import Embedder, Memory, MemoryStore, Scope, shared_reads
from memori.retrieval import HybridRetriever

DIM = 384
BATCH = 1000
ENTITY = "scale-user"


def entity_of(index: int, per_entity: int) -> str:
    """The entity of the ``index``-th memory (all in one when ``per_entity`` is 0)."""
    return ENTITY if per_entity <= 0 else f"{ENTITY}-{index // per_entity}"
BACKENDS = ("sqlite-vec", "sqlite-exact", "mongo", "qdrant-memory", "qdrant-path")
CAPS = {"mongo": 10_000, "qdrant-memory": 10_000, "qdrant-path": 10_000}
"""Largest default size of the backends whose local stand-ins scan in Python
(the secantusdb test server, qdrant-client's local mode); ``--uncapped`` lifts it."""
DEFAULT_SIZES = (1_000, 10_000, 100_000)
VOCABULARY = 5_000
SEED = 20_261_124
MIN_QUERIES = 5


# synthetic data


def vocabulary(n: int = VOCABULARY) -> list[str]:
    """Pronounceable distinct pseudo-words (so no real text is needed)."""
    onsets, vowels, codas = "bcdfghklmnprstvz", "aeiou", ["", "n", "r", "s", "t", "l"]
    words: list[str] = []
    for i in range(n):
        parts, x = [], i + 1
        while x:
            x, r = divmod(x, len(onsets) * len(vowels))
            parts.append(onsets[r % len(onsets)] + vowels[r // len(onsets)])
        words.append("".join(parts) + codas[i % len(codas)])
    return words


class Corpus:
    """Deterministic memories and queries: Zipf word frequencies, random unit vectors."""

    def __init__(self, seed: int = SEED) -> None:
        self.words = np.array(vocabulary())
        ranks = np.arange(1, len(self.words) + 1, dtype=np.float64)
        self.p = (1.0 / ranks**1.1) / np.sum(1.0 / ranks**1.1)
        self.rng = np.random.default_rng(seed)

    def vectors(self, n: int) -> np.ndarray[Any, np.dtype[np.float32]]:
        v = self.rng.standard_normal((n, DIM)).astype(np.float32)
        out: np.ndarray[Any, np.dtype[np.float32]] = v / np.linalg.norm(v, axis=1, keepdims=True)
        return out

    def texts(self, n: int, low: int = 8, high: int = 20) -> list[str]:
        lengths = self.rng.integers(low, high + 1, size=n)
        picks = self.rng.choice(self.words, size=int(lengths.sum()), p=self.p)
        out, at = [], 0
        for length in lengths:
            out.append(" ".join(picks[at : at + length]))
            at += length
        return out

    def memories(self, n: int, first: int, per_entity: int) -> list[Memory]:
        """Memories number ``first`` to ``first + n - 1``."""
        texts, vectors = self.texts(n), self.vectors(n)
        return [
            Memory(entity_id=entity_of(first + i, per_entity), content=t,
                   created_at=1.7e9 + first + i, embedding=tuple(vectors[i].tolist()))
            for i, t in enumerate(texts)
        ]

    def queries(self, n: int) -> list[tuple[str, list[float]]]:
        """Three mid-frequency words each (ranks 50..2000), with a random vector."""
        idx = self.rng.integers(50, 2000, size=(n, 3))
        vectors = self.vectors(n)
        return [(" ".join(self.words[row]), vectors[i].tolist()) for i, row in enumerate(idx)]


# backends


@contextmanager
def open_for(backend: str, workdir: Path) -> Iterator[tuple[MemoryStore, dict[str, Any]]]:
    """The store of ``backend`` (set up, empty) and facts about it for the report."""
    info: dict[str, Any] = {}
    server = None
    if backend.startswith("sqlite"):
        mode = "sqlite-vec" if backend == "sqlite-vec" else "exact"
        store = open_backend(f"sqlite:///{workdir / 'scale.db'}", vector_dim=DIM,
                             vector_search=mode)
    elif backend == "mongo":
        from memori.testing.mongo_server import start_mongo_server

        server = start_mongo_server()
        store = open_backend(server.url, vector_dim=DIM, database=f"scale_{int(time.time())}")
        info["server"] = "external" if not server.owned else "secantusdb (in-memory)"
    elif backend == "qdrant-memory":
        store = open_backend("qdrant+memory://", vector_dim=DIM)
    elif backend == "qdrant-path":
        store = open_backend(f"qdrant+path://{workdir / 'qdrant'}", vector_dim=DIM)
    else:
        raise SystemExit(f"unknown backend {backend!r}; known: {', '.join(BACKENDS)}")
    try:
        store.setup()
        info["capabilities"] = sorted(c.value for c in store.capabilities)
        vector_path = getattr(store, "vector_path", None)
        if vector_path:
            info["vector_path"] = vector_path
        yield store, info
        if server is not None and server.process is not None:
            info["server_peak_rss_mb"] = _process_peak_mb(server.process.pid)
    finally:
        store.close()
        if server is not None:
            server.stop()


def _process_peak_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


# measuring


def query_embedder() -> Embedder:
    """The default local embedder, int8 model ready, with no query cache: every query
    pays its embedding, as a user's new question does."""
    from memori.embedders import LocalEmbedder

    embedder = LocalEmbedder(cache_size=0)
    embedder.wait_for_int8(timeout=900)
    return embedder


def recall_once(retriever: HybridRetriever, store: MemoryStore, scope: Scope, query: str,
           vector: list[float] | None = None) -> object:
    """One recall as ``mem.recall`` runs it: the retriever, its reads shared."""
    with shared_reads(store):
        return retriever.retrieve(store, scope, query, limit=10, vector=vector)


def timed(fn: Callable[[], object]) -> float:
    """Milliseconds one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000.0


def measure_searches(
    store: MemoryStore, queries: Sequence[tuple[str, list[float]]],
    scopes: Sequence[Sequence[Scope]], seconds: float,
) -> dict[str, Any]:
    """Latencies of the default retriever and of the store's searches (limit 10).

    Each is timed in its own pass over the queries; query ``i`` of pass ``p`` runs
    in ``scopes[p][i]``, so with many entities every pass meets entities it has not
    touched yet (no pass profits from caches another one warmed). A pass stops
    after ``seconds`` once at least ``MIN_QUERIES`` queries ran.
    """
    retriever = HybridRetriever()
    embedded = HybridRetriever(embedder=query_embedder())  # what mem.recall runs
    for (q, v), scope in zip(queries[:2], scopes[0], strict=False):  # warm lazy paths
        retriever.retrieve(store, scope, q, limit=10, vector=v)
        embedded.retrieve(store, scope, q, limit=10)
    calls: list[Callable[[str, list[float], Scope], Callable[[], object]]] = [
        lambda q, v, s: partial(recall_once, retriever, store, s, q, vector=v),
        lambda q, v, s: partial(store.search_memories, s, text=q, limit=10),
        lambda q, v, s: partial(store.search_memories, s, vector=v, limit=10),
        lambda q, v, s: partial(recall_once, embedded, store, s, q),
    ]
    samples: list[list[float]] = []
    for make, pass_scopes in zip(calls, scopes, strict=True):
        taken: list[float] = []
        deadline = time.monotonic() + seconds
        for (q, v), scope in zip(queries, pass_scopes, strict=True):
            if len(taken) >= MIN_QUERIES and time.monotonic() > deadline:
                break
            taken.append(timed(make(q, v, scope)))
        samples.append(taken)
    recall, text, vector, with_embedding = samples
    return {"queries": len(recall), "recall": latency_summary(recall),
            "recall_embedding_query": latency_summary(with_embedding),
            "text_search": latency_summary(text), "vector_search": latency_summary(vector)}


def child(
    backend: str, sizes: Sequence[int], n_queries: int, budget_s: float, query_s: float,
    per_entity: int,
) -> dict[str, Any]:
    """Run one backend through every size (in its own process).

    Returns the rows measured; an error (a missing driver, a server that does not
    start, memory running out) ends the run with the rows so far and its reason.
    """
    rows: list[dict[str, Any]] = []
    info: dict[str, Any] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="memori-scale-") as tmp, \
                open_for(backend, Path(tmp)) as (store, facts):
            info = facts
            grow(store, backend, rows, info, sizes, n_queries, budget_s, query_s, per_entity)
    except Exception as e:
        info["error"] = f"{type(e).__name__}: {e}"[:400]
    return {"backend": backend, **info, "rows": rows}


def grow(
    store: MemoryStore, backend: str, rows: list[dict[str, Any]], info: dict[str, Any],
    sizes: Sequence[int], n_queries: int, budget_s: float, query_s: float, per_entity: int,
) -> None:
    """Load the store size by size, measuring at each; rows are appended as they come."""
    corpus = Corpus()
    queries = corpus.queries(n_queries)
    picks = np.random.default_rng(SEED + 1).random((4, n_queries))
    started = time.monotonic()
    have = 0
    for size in sorted(sizes):
        if time.monotonic() - started > budget_s:
            info["stopped"] = f"time budget of {budget_s:.0f} s spent before {size:,}"
            return
        ingest_s = 0.0
        while have < size:
            batch = corpus.memories(min(BATCH, size - have), have, per_entity)
            t0 = time.perf_counter()
            store.put_memories(batch)
            ingest_s += time.perf_counter() - t0
            have += len(batch)
        expected = size if per_entity <= 0 else min(per_entity, size)
        count = store.count_memories(Scope(entity_of(0, per_entity)))
        if count != expected:
            raise RuntimeError(f"{count} memories stored for an entity, expected {expected}")
        entities = 1 if per_entity <= 0 else -(-size // per_entity)
        scopes = [[Scope(entity_of(int(p * entities) * max(per_entity, 1), per_entity))
                   for p in row] for row in picks]
        added = size - (rows[-1]["memories"] if rows else 0)
        row = {"memories": size, "entities": entities,
               "ingest_per_s": round(added / max(ingest_s, 1e-9), 1),
               **measure_searches(store, queries, scopes, query_s),
               "peak_rss_mb": peak_rss_mb()}
        rows.append(row)
        print(f"  {backend} {size:>9,}: ingest {row['ingest_per_s']:>9,.0f}/s, recall p50 "
              f"{row['recall']['p50_ms']:.2f} ms, peak RSS {row['peak_rss_mb']:.0f} MiB",
              file=sys.stderr, flush=True)


def run_child(backend: str, args: argparse.Namespace) -> dict[str, Any]:
    sizes = args.sizes if args.uncapped else [s for s in args.sizes
                                              if s <= CAPS.get(backend, s)]
    if not sizes:
        return {"backend": backend, "stopped": "every size is above its cap", "rows": []}
    cmd = [sys.executable, __file__, "--child", backend, "--sizes",
           ",".join(str(s) for s in sizes), "--queries", str(args.queries),
           "--budget", str(args.budget), "--query-seconds", str(args.query_seconds),
           "--per-entity", str(args.per_entity)]
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines:
        return {"backend": backend, "error": f"exited with code {proc.returncode}", "rows": []}
    result: dict[str, Any] = json.loads(lines[-1])
    capped = [s for s in args.sizes if s not in sizes]
    if capped:
        result["capped"] = (f"sizes {', '.join(f'{s:,}' for s in capped)} skipped "
                            f"(cap {CAPS[backend]:,}; --uncapped runs them)")
    return result


def parse_sizes(text: str) -> list[int]:
    sizes = sorted({int(s.replace("_", "")) for s in text.split(",") if s.strip()})
    if not sizes or sizes[0] < 1:
        raise argparse.ArgumentTypeError("sizes are positive integers, e.g. 1000,10000")
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_sizes, default=list(DEFAULT_SIZES),
                        help="memory counts, comma-separated (default 1000,10000,100000)")
    parser.add_argument("--backends", default=",".join(BACKENDS),
                        help=f"comma-separated, from {', '.join(BACKENDS)}")
    parser.add_argument("--queries", type=int, default=100,
                        help="timed queries per size (at most)")
    parser.add_argument("--query-seconds", type=float, default=15.0,
                        help=f"stop timing queries of a size after this (>= {MIN_QUERIES} run)")
    parser.add_argument("--per-entity", type=int, default=0,
                        help="memories per entity (default 0: all in one entity)")
    parser.add_argument("--uncapped", action="store_true",
                        help="run the slow local stand-ins at every size too")
    parser.add_argument("--budget", type=float, default=600.0,
                        help="seconds per backend after which no larger size is started")
    parser.add_argument("--output", type=Path, default=None,
                        help="default results/scale.json (scale_per_entity.json with "
                             "--per-entity)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.sizes, args.queries, args.budget,
                               args.query_seconds, args.per_entity)))
        return 0
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        parser.error(f"unknown backend(s) {sorted(unknown)}; known: {', '.join(BACKENDS)}")
    results = [run_child(b, args) for b in backends]
    report = {
        "benchmark": "scale", "dim": DIM, "batch": BATCH, "queries": args.queries,
        "per_entity": args.per_entity or "all in one entity",
        "sizes": args.sizes, "backends": results, "machine": machine_info(),
    }
    print_report(results)
    output = args.output or RESULTS_DIR / (
        "scale_per_entity.json" if args.per_entity > 0 else "scale.json")
    write_result(output, report)
    print(f"written to {output.name}")
    return 0


def print_report(results: Sequence[dict[str, Any]]) -> None:
    rows = []
    for res in results:
        for r in res["rows"]:
            rows.append([res["backend"], f"{r['memories']:,}", f"{r['ingest_per_s']:,.0f}",
                         r["recall"]["p50_ms"], r["recall"]["p95_ms"],
                         r.get("recall_embedding_query", {}).get("p50_ms"),
                         r["text_search"]["p50_ms"], r["vector_search"]["p50_ms"],
                         r["peak_rss_mb"]])
    print_table(["backend", "memories", "ingest/s", "recall p50 ms", "recall p95 ms",
                 "with query embedding p50 ms", "text p50 ms", "vector p50 ms",
                 "peak RSS MiB"], rows)
    for res in results:
        for note in ("capped", "stopped", "error"):
            if res.get(note):
                print(f"{res['backend']}: {res[note]}")


if __name__ == "__main__":
    raise SystemExit(main())
