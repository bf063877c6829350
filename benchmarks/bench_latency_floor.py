"""How much of a registered call's added latency any retrieval pays on this machine.

``bench_interception.py`` measures what a registered call adds. This benchmark asks
what part of that the search could ever win back, in one process, the kinds of call
taking turns (each round in a rotated order) against the loopback stand-in:

- ``bare``: the SDK call alone (the stand-in answers at once);
- ``memory``: the registered call, the default retriever over N memories;
- ``floor``: the registered call whose retriever embeds the question exactly as the
  default one does (begun beside the call's reads, waited for), then returns a fixed
  list of hits, the default retriever's for another question, without searching: every
  cost of the call but the search, with a block as long as a real one;
- ``model alone``: the question embedded as a call embeds it, nothing else running.

``floor - bare`` is the least a registered call adds with this model here, whatever
the search costs; ``memory - floor`` is the search. Then the model's arithmetic: the
multiply-adds of its int8 products for the question (from the derived graph) and the
rate onnxruntime's int8 kernel reaches on this CPU at the question's shape and at its
best (a 512-row product), one thread: the model's time spent at that rate is the part
of the model no code around it can shorten.

Run: ``python benchmarks/bench_latency_floor.py [--calls 300] [--memories 10000]
[--embedder local] [--output PATH]``. Prints a table and writes
``benchmarks/results/latency_floor.json``.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

os.environ.setdefault("ORT_DISABLE_TELEMETRY", "1")

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import RESULTS_DIR, DiskCachedEmbedder, machine_info, print_table, write_result
from bench_interception import (
    ENTITY,
    PERSONA,
    ask,
    make_client,
    make_embedder,
    populate,
    start_server,
    summarise,
)
from workload import message

from memori import Memori
from memori.core import Hit, MemoryStore, Scope

RESULTS = RESULTS_DIR / "latency_floor.json"
KINDS = ("bare", "memory", "floor", "model alone")
BEST_ROWS = 512
"""Rows of the product at which onnxruntime's int8 kernel is measured at its best."""


class FixedHits:
    """A retriever that embeds the question as ``inner`` does (begun beside the call's
    reads when ``inner`` can), waits for the vector, and returns ``hits`` unsearched."""

    def __init__(self, inner: Any, hits: Sequence[Hit]) -> None:
        self.inner = inner
        self.hits = list(hits)

    def start_query(self, store: MemoryStore, query: str, *, inline_if_busy: bool = True
                    ) -> Any:
        return self.inner.start_query(store, query, inline_if_busy=inline_if_busy)

    def retrieve(self, store: MemoryStore, scope: Scope, query: str, *, limit: int = 10,
                 started: Any = None, **kwargs: Any) -> list[Hit]:
        if started is not None:
            started.result()
        else:
            self.inner.query_vector(store, query)
        return self.hits[:limit]


def measure(mem: Memori, base_url: str, calls: int, warmup: int
            ) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Each kind once per round, in an order rotated round by round; each call's
    background work settled (untimed) before the next, as ``bench_interception`` does.
    Returns the times (ms) and how many timed calls of each kind injected a block."""
    real = mem.retriever
    hits = real.retrieve(mem.store, mem.current.scope(), message(999_999),
                         limit=mem.recall_limit)
    floor = FixedHits(real, hits)
    embedder = real.embedder
    bare = make_client("openai", base_url, is_async=False)
    wrapped = mem.llm.register(make_client("openai", base_url, is_async=False))
    times: dict[str, list[float]] = {kind: [] for kind in KINDS}
    injected = dict.fromkeys(KINDS, 0)
    try:
        for i in range(warmup + calls):
            order = KINDS[i % len(KINDS):] + KINDS[:i % len(KINDS)]
            for n, kind in enumerate(order):
                text = message(len(KINDS) * i + n)  # distinct: no query cache answers
                mem.retriever = floor if kind == "floor" else real
                before = mem.llm.stats.injected
                began = time.perf_counter()
                if kind == "model alone":
                    embedder.embed([real.embedded(text)])
                else:
                    ask("openai", bare if kind == "bare" else wrapped, text)
                took = (time.perf_counter() - began) * 1000
                mem.flush()
                if i >= warmup:
                    times[kind].append(took)
                    injected[kind] += mem.llm.stats.injected - before
    finally:
        mem.retriever = real
        mem.llm.unregister(wrapped)
        wrapped.close()
        bare.close()
    failures = mem.llm.stats.failures
    if failures:  # a call that went on without memory would flatter its kind
        raise RuntimeError(f"{failures} memory failures during the calls: no figures")
    return times, injected


def int8_products(model: bytes) -> list[tuple[int, int]]:
    """The (K, N) weight shape of each int8 product (``MatMulInteger``) of a graph."""
    import onnx

    proto = onnx.load_from_string(model)
    shapes = {init.name: tuple(init.dims) for init in proto.graph.initializer}
    out = []
    for node in proto.graph.node:
        shape = shapes.get(node.input[1]) if node.op_type == "MatMulInteger" else None
        if shape is not None and len(shape) == 2:
            out.append((int(shape[0]), int(shape[1])))
    return out


def int8_rate(rows: int, k: int, n: int, runs: int = 200) -> float:
    """Multiply-adds per second of onnxruntime's int8 product (uint8 rows times an
    int8 ``k x n`` weight), one thread, at ``rows`` rows: the best of five batches."""
    import numpy as np
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    weight = rng.integers(-127, 128, (k, n), dtype=np.int8)
    graph = helper.make_graph(
        [helper.make_node("MatMulInteger", ["A", "W"], ["Y"])], "product",
        [helper.make_tensor_value_info("A", TensorProto.UINT8, [rows, k])],
        [helper.make_tensor_value_info("Y", TensorProto.INT32, [rows, n])],
        [numpy_helper.from_array(weight, "W")])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    options = ort.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options,
                                   providers=["CPUExecutionProvider"])
    feed = {"A": rng.integers(0, 256, (rows, k), dtype=np.uint8)}
    for _ in range(20):
        session.run(None, feed)
    best = float("inf")
    for _ in range(5):
        began = time.perf_counter()
        for _ in range(runs // 5):
            session.run(None, feed)
        best = min(best, (time.perf_counter() - began) / (runs // 5))
    return rows * k * n / best


def arithmetic(embedder: Any, text: str) -> dict[str, Any] | None:
    """The default local model's int8 multiply-adds for ``text`` (as embedded) and
    their time at the rates this CPU's int8 kernel reaches; None for another embedder
    or while no derived int8 graph is cached."""
    from tokenizers import Tokenizer

    from memori.config import default_cache_dir
    from memori.embedders import LocalEmbedder
    from memori.embedders.model_files import MODEL_FILE, TOKENIZER_FILE
    from memori.embedders.quantize import read_cached_int8

    if not isinstance(embedder, LocalEmbedder) or embedder.serving != "int8":
        return None
    model = read_cached_int8(MODEL_FILE.sha256, default_cache_dir() / "models")
    products = int8_products(model) if model is not None else []
    if not products:
        return None
    tokenizer = Tokenizer.from_file(str(TOKENIZER_FILE.locate()))
    tokenizer.no_padding()  # as the embedder encodes a text
    tokenizer.enable_truncation(max_length=embedder.max_length)
    tokens = len(tokenizer.encode(text).ids)
    k, n = max(products, key=lambda shape: shape[0] * shape[1])
    macs = tokens * sum(a * b for a, b in products)
    at_shape, best = int8_rate(tokens, k, n), int8_rate(BEST_ROWS, k, n)
    return {"tokens": tokens, "int8_products": len(products),
            "multiply_adds": macs,
            "int8_rate_gmacs": {f"{tokens}_rows": round(at_shape / 1e9, 1),
                                f"{BEST_ROWS}_rows": round(best / 1e9, 1)},
            "products_ms_at_rate": {f"{tokens}_rows": round(macs / at_shape * 1000, 3),
                                    f"{BEST_ROWS}_rows": round(macs / best * 1000, 3)}}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--warmup", type=int, default=30)
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--embedder", default="local")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.calls < 1 or args.warmup < 0 or args.memories < 1:
        parser.error("--calls and --memories must be at least 1, --warmup at least 0")
    embedder = make_embedder(args.embedder)
    if embedder is None:
        print(f"SKIP: the {args.embedder!r} embedder is unavailable")
        return 0
    proc, base_url = start_server(0.0, "openai")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            mem = Memori(f"sqlite:///{Path(tmp) / 'floor.db'}", embedder=embedder)
            try:
                cached = DiskCachedEmbedder(embedder) if args.embedder == "local" else None
                populate(mem, args.memories, cached or embedder)
                if cached is not None:
                    cached.close()
                mem.attribution(entity_id=ENTITY, process_id=PERSONA)
                mem.new_session()
                load_before = machine_info().get("load_average")
                times, injected = measure(mem, base_url, args.calls, args.warmup)
            finally:
                mem.close()
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait(timeout=10)
    stats = {kind: summarise(samples) for kind, samples in times.items()}
    bare = stats["bare"]["p50"]
    added = {kind: round(stats[kind]["p50"] - bare, 3) for kind in ("memory", "floor")}
    search = round(stats["memory"]["p50"] - stats["floor"]["p50"], 3)
    model = arithmetic(embedder, mem.retriever.embedded(message(0)))
    print_table(["kind", "p50 ms", "p95 ms", "added p50 ms", "calls with a block"], [
        [kind, stats[kind]["p50"], stats[kind]["p95"], added.get(kind, ""), injected[kind]]
        for kind in KINDS])
    print(f"the search (memory - floor, p50): {search} ms; {args.memories:,} memories, "
          f"{args.calls} calls of each kind")
    if model is not None:
        rate, ms = model["int8_rate_gmacs"], model["products_ms_at_rate"]
        print(f"the model's int8 products for the {model['tokens']}-token question: "
              f"{model['multiply_adds'] / 1e6:.0f} M multiply-adds; onnxruntime's int8 "
              f"kernel here, one thread: {' / '.join(f'{v} G/s' for v in rate.values())} "
              f"({' / '.join(rate)}), so {' / '.join(f'{v} ms' for v in ms.values())} "
              f"of the model's {stats['model alone']['p50']} ms")
    write_result(args.output, {
        "benchmark": "latency-floor", "machine": machine_info(),
        "load_average_before": load_before, "embedder": embedder.name,
        "memories": args.memories, "calls": args.calls, "warmup": args.warmup,
        "ms": stats, "added_p50_ms": added, "calls_with_a_block": injected, "search_p50_ms": search,
        "model_arithmetic": model,
    })
    return 0


if __name__ == "__main__":
    sys.exit(main())
