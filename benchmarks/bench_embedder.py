"""Benchmark the local embedder: cold start, single short-query latency, batch throughput.

Run: ``python benchmarks/bench_embedder.py [--queries N] [--sentences N] [--threads N]
[--arithmetic int8,float32]``. Prints a summary per arithmetic and writes
``benchmarks/results/embedder.json``. Loads use a fresh cache directory, so the first
load of the int8 model includes deriving it; the second load reads it from the cache.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from memori.embedders import HashEmbedder, LocalEmbedder

RESULTS = Path(__file__).resolve().parent / "results" / "embedder.json"

TOPICS = (
    "running goal", "meal plan", "sister's birthday", "trip to Japan", "python project",
    "sleep schedule", "favourite coffee", "doctor appointment", "budget", "guitar lessons",
)
SENTENCE = (
    "the user said they prefer to train in the morning before work and wants to keep "
    "their weekly budget under two hundred dollars while cooking vegetarian meals at home "
    "on weekdays and meeting friends for dinner on saturday evenings in the city centre"
)


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def short_queries(n: int) -> list[str]:
    """Distinct short queries (8-14 tokens), so every call misses the cache."""
    return [f"What did I say about my {TOPICS[i % len(TOPICS)]} on day {i}?" for i in range(n)]


def sentences(n: int, seed: int = 7) -> list[str]:
    rng = random.Random(seed)
    words = SENTENCE.split()
    return [" ".join(rng.choice(words) for _ in range(rng.randint(6, 40))) for _ in range(n)]


def time_calls(embed: Any, texts: list[str]) -> tuple[list[float], list[float]]:
    """Wall-clock and calling-thread CPU milliseconds of one ``embed([text])`` per text.

    With one intra-op thread onnxruntime runs in the calling thread, so the CPU time is
    what the call costs on an idle core even when other processes load the machine.
    """
    wall, cpu = [], []
    for text in texts:
        start, start_cpu = time.perf_counter(), time.thread_time()
        embed([text])
        cpu.append((time.thread_time() - start_cpu) * 1000.0)
        wall.append((time.perf_counter() - start) * 1000.0)
    return wall, cpu


def summary(samples: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p95_ms": round(percentile(samples, 0.95), 3),
        "p99_ms": round(percentile(samples, 0.99), 3),
        "mean_ms": round(statistics.fmean(samples), 3),
    }


def timed_load(embedder: LocalEmbedder) -> float:
    start = time.perf_counter()
    embedder.load()
    return (time.perf_counter() - start) * 1000.0


def run(
    arithmetic: Any, queries: int, n_sentences: int, threads: int | None, workers: int | None,
    cache_dir: Path,
) -> dict[str, Any]:
    options: dict[str, Any] = {"threads": threads, "workers": workers,
                               "arithmetic": arithmetic, "cache_dir": cache_dir,
                               "warm_start": False}  # the cold load derives the model
    load_ms = timed_load(LocalEmbedder(**options))
    embedder = LocalEmbedder(**options)
    cached_load_ms = timed_load(embedder)
    load_avg_start = os.getloadavg()[0]

    warmup = short_queries(queries + 50)[queries:]
    time_calls(embedder.embed, warmup)
    texts = short_queries(queries)
    cold, cold_cpu = time_calls(embedder.embed, texts)  # every text is new: cache misses
    warm, _ = time_calls(embedder.embed, texts[:8] * (queries // 8))  # cache hits

    corpus = sentences(n_sentences)
    uncached = LocalEmbedder(**options, cache_size=0)
    uncached.load()
    uncached.embed(corpus[:32])
    start = time.perf_counter()
    uncached.embed(corpus)
    batch_s = time.perf_counter() - start

    hasher = HashEmbedder()
    start = time.perf_counter()
    hasher.embed(corpus)
    hash_s = time.perf_counter() - start

    import onnxruntime

    return {
        "embedder": embedder.name,
        "arithmetic": embedder.arithmetic,
        "dim": embedder.dim,
        "threads": embedder.threads,
        "batch_workers": embedder.workers,
        "load_ms": round(load_ms, 1),
        "load_cached_model_ms": round(cached_load_ms, 1),
        "single_query_cold_cache": {"queries": len(cold), **summary(cold)},
        "single_query_cold_cache_thread_cpu": summary(cold_cpu),
        "single_query_cache_hit": {"queries": len(warm), **summary(warm)},
        "batch": {
            "sentences": len(corpus),
            "batch_size": 1 if embedder.arithmetic == "int8" else uncached.batch_size,
            "mean_words": round(statistics.fmean(len(s.split()) for s in corpus), 1),
            "seconds": round(batch_s, 3),
            "sentences_per_s": round(len(corpus) / batch_s, 1),
        },
        "hash_embedder_sentences_per_s": round(len(corpus) / hash_s, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_1m_at_start": round(load_avg_start, 2),
            "load_average_1m_at_end": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "onnxruntime": onnxruntime.__version__,
            "processor": platform.processor() or platform.machine(),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--queries", type=int, default=400)
    parser.add_argument("--sentences", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads per run")
    parser.add_argument("--workers", type=int, default=None, help="batches run at once")
    parser.add_argument("--arithmetic", default="int8,float32")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()
    results = []
    for arithmetic in args.arithmetic.split(","):
        with tempfile.TemporaryDirectory() as tmp:
            result = run(arithmetic.strip(), args.queries, args.sentences, args.threads,
                         args.workers, Path(tmp))
        results.append(result)
        report(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    tmp_file = args.output.with_suffix(".json.tmp")
    tmp_file.write_text(json.dumps({"benchmark": "embedder", "results": results}, indent=2)
                        + "\n")
    tmp_file.replace(args.output)
    print(f"written to {args.output.name}")


def report(result: dict[str, Any]) -> None:
    cold, hit, batch = (
        result["single_query_cold_cache"], result["single_query_cache_hit"], result["batch"]
    )
    print(f"{result['embedder']} ({result['arithmetic']} arithmetic, dim {result['dim']}, "
          f"{result['threads']} intra-op threads, {result['batch_workers']} batch workers)")
    print(f"  load (hash check, derivation if any, session): {result['load_ms']:.0f} ms; "
          f"from the model cache: {result['load_cached_model_ms']:.0f} ms")
    print(f"  single short query, cold cache: p50 {cold['p50_ms']:.2f} ms, "
          f"p95 {cold['p95_ms']:.2f} ms, p99 {cold['p99_ms']:.2f} ms")
    cpu = result["single_query_cold_cache_thread_cpu"]
    print(f"    calling-thread CPU per query: p50 {cpu['p50_ms']:.2f} ms, "
          f"p95 {cpu['p95_ms']:.2f} ms")
    print(f"  single short query, cache hit:  p50 {hit['p50_ms']:.3f} ms, "
          f"p95 {hit['p95_ms']:.3f} ms")
    print(f"  batch: {batch['sentences_per_s']:.0f} sentences/s "
          f"({batch['sentences']} sentences, ~{batch['mean_words']} words each)")
    print(f"  hash embedder: {result['hash_embedder_sentences_per_s']:.0f} sentences/s")


if __name__ == "__main__":
    main()
