"""Benchmark the LLM path: latency a registered client adds to ``chat.completions.create``.

Each configuration (embedder x memories of the entity x sync/async) makes the same
calls through a bare client and through a registered one, interleaved, against the
OpenAI-compatible test server running in a separate process (as a real model server
would be). Reported per call, p50 and p95:

- ``added``: registered minus bare, the whole cost of memory for the caller;
- ``embed``: the query embedding inside it; ``added - embed`` is the design target
  "at most 1 ms excluding the query embedding";
- ``recall``: the retriever (query embedding and store searches);
- ``own``: ``added - recall``, the interceptor itself (session history, block, copy,
  recording, the worker-thread hop on the async path).

``--clients openai,anthropic`` adds rows for a registered ``anthropic.Anthropic`` /
``AsyncAnthropic`` (``messages.create``) against the Anthropic stand-in, beside openai's.

Run: ``python benchmarks/bench_interception.py [--calls N] [--memories N]
[--embedders hash,local] [--clients openai,anthropic] [--write-path guarded|unguarded]
[--new-session-every-call] [--no-settle] [--gc-freeze]``. By default each call's
background work (recording, extraction) is settled, untimed, before the next call.
Each row also lists the full garbage collections (generation 2) that ran while its
calls did, with how long each took: one stops every thread, the event loop included.
``--gc-freeze`` calls ``gc.freeze()`` once the store is filled, as an application can
after its start-up: a full collection then walks only what was made since.
With the local embedder it also times the model alone for each message length, one
message at a time as a call's retrieval embeds it (``model_alone_ms``): machines differ
more in this than in the rest of the call, so rows of two machines are read beside it.
Prints a table and writes ``benchmarks/results/interception.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx2
import openai
from _common import (
    RESULTS_DIR,
    DiskCachedEmbedder,
    machine_info,
    percentile,
    print_table,
    write_result,
)
from workload import corpus, message

from memori import Memori
from memori.core import (
    Embedder,
    Hit,
    Memory,
    MemoryStore,
    Retriever,
    Scope,
    SupportsEmbedBeside,
    SupportsStartQuery,
)

RESULTS = RESULTS_DIR / "interception.json"
SETTLE = True
"""After each timed call, wait (untimed) until its turns are stored and extracted, so a
call's background work does not run into the next call, bare or registered: with an
instant model answer that spill inflated the bare baseline (4.2-5.6 ms against
1.8-2.3 ms measured apart). ``--no-settle`` measures calls back to back."""
MESSAGE_WORDS = 0
"""Words of each call's user message (0: the 15-token question of ``workload.query``)."""
NEW_SESSION_EVERY_CALL = False
GC_FREEZE = False
"""``gc.freeze()`` after filling each configuration's store (``--gc-freeze``)."""
"""Each registered call starts a new session: it then waits for the previous call's turns
to be stored and extracted (read-your-writes across conversations, the worst case)."""
MODEL = "gpt-4o-mini"
ANTHROPIC_MODEL = "claude-test"
ENTITY, PERSONA = "bench-user", "assistant"

SERVER_CODE = (
    "import sys\n"
    "from memori.testing import OpenAIServer, Reply\n"
    "from memori.testing.anthropic_server import AnthropicServer\n"
    "server = (AnthropicServer if sys.argv[2] == 'anthropic' else OpenAIServer)().start()\n"
    "delay = float(sys.argv[1])\n"
    "if delay > 0:\n"
    "    server.set_responder(lambda request: Reply(text='Noted.', delay=delay))\n"
    "print(server.base_url, flush=True)\n"
    "sys.stdin.read()\n"
    "server.stop()\n"
)


QUERY_OFFSET = {"openai": 0, "anthropic": 100_000}
"""Each client kind asks messages of its own: the same embedder serves both, and its
query cache would otherwise answer the second client's questions."""


class TimingEmbedder:
    """Delegates to an embedder and records how long each call took (query side only)."""

    def __init__(self, inner: Embedder) -> None:
        self.inner = inner
        self.name = inner.name
        self.dim = inner.dim
        self.samples: list[float] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        began = time.perf_counter()
        try:
            return self.inner.embed(texts)
        finally:
            self.samples.append((time.perf_counter() - began) * 1000)


class TimingBesideEmbedder(TimingEmbedder):
    """For an embedder that runs beside the caller (the local model): what the call
    waits for, i.e. starting the model plus the wait for its result once the caller's
    own reads are done; the rest of the model's time overlaps them."""

    def embed_beside(self, text: str, *, inline_if_busy: bool = True) -> Any:
        began = time.perf_counter()
        pending = self.inner.embed_beside(  # type: ignore[attr-defined]
            text, inline_if_busy=inline_if_busy)
        if pending is None:
            return None
        started = (time.perf_counter() - began) * 1000
        samples = self.samples

        class Timed:
            def keep_apart(self) -> None:
                getattr(pending, "keep_apart", lambda: None)()

            def result(self) -> Any:
                waited = time.perf_counter()
                try:
                    return pending.result()
                finally:
                    samples.append(started + (time.perf_counter() - waited) * 1000)

        return Timed()


def timing_embedder(inner: Embedder) -> TimingEmbedder:
    return TimingBesideEmbedder(inner) if isinstance(inner, SupportsEmbedBeside) \
        else TimingEmbedder(inner)


class TimingRetriever:
    """Delegates to the configured retriever and records each retrieval's duration."""

    def __init__(self, inner: Retriever) -> None:
        self.inner = inner
        self.samples: list[float] = []

    def start_query(self, store: MemoryStore, query: str, *, inline_if_busy: bool = True
                    ) -> Any:
        inner = self.inner
        if not isinstance(inner, SupportsStartQuery):
            return None
        return inner.start_query(store, query, inline_if_busy=inline_if_busy)

    def retrieve(self, store: MemoryStore, scope: Scope, query: str, *, limit: int = 10,
                 token_budget: int | None = None, include_history: bool = False,
                 **kwargs: Any) -> list[Hit]:
        began = time.perf_counter()
        try:
            retrieve: Any = self.inner.retrieve
            hits: list[Hit] = retrieve(store, scope, query, limit=limit,
                                       token_budget=token_budget,
                                       include_history=include_history, **kwargs)
            return hits
        finally:
            self.samples.append((time.perf_counter() - began) * 1000)


def make_embedder(name: str) -> Embedder | None:
    from memori.embedders.resolve import resolve_embedder

    try:
        embedder = resolve_embedder(name)
    except Exception as e:  # the local model is optional
        print(f"embedder {name!r} unavailable: {type(e).__name__}: {e}", file=sys.stderr)
        return None
    from memori.embedders import LocalEmbedder

    if isinstance(embedder, LocalEmbedder):  # measure int8, not a cold cache's warm start
        embedder.wait_for_int8(timeout=900)
    return embedder


def model_alone(words: Sequence[int], calls: int = 100, warmup: int = 20
                ) -> dict[str, dict[str, float]]:
    """The local model alone, per message length: one message embedded at a time, as a
    call's retrieval embeds it (a long message's first and last words), nothing else
    running: the machine's speed for the model, to read the rows beside (machines differ
    more in this than in the rest of the call). Empty when the model is unavailable."""
    embedder = make_embedder("local")
    if embedder is None:
        return {}
    from memori.retrieval import HybridRetriever

    embedded = HybridRetriever(embedder=embedder).embedded
    out = {}
    for w in words:
        texts = [embedded(message(60_000 + i, w)) for i in range(warmup + calls)]
        times = []
        for i, text in enumerate(texts):  # distinct texts: no cache hides the model
            began = time.perf_counter()
            embedder.embed([text])
            if i >= warmup:
                times.append((time.perf_counter() - began) * 1000)
        out[str(w or len(message(0).split()))] = summarise(times)
    return out


def populate(mem: Memori, n: int, corpus_embedder: Embedder | None) -> float:
    """Store ``n`` memories for the entity (vectors precomputed); returns seconds taken."""
    if n == 0:
        return 0.0
    texts = corpus(n)
    began = time.perf_counter()
    vectors: list[Any] = [None] * n
    if corpus_embedder is not None and mem.store.vector_dim is not None:
        vectors = corpus_embedder.embed(texts)
    batch = 1000
    for start in range(0, n, batch):
        mem.store.put_memories([
            Memory(entity_id=ENTITY, process_id=PERSONA, content=text, kind="fact",
                   embedding=tuple(vec) if vec is not None else None)
            for text, vec in zip(texts[start:start + batch], vectors[start:start + batch],
                                 strict=True)
        ])
    return time.perf_counter() - began


def stall_summary(values: Sequence[float]) -> dict[str, float]:
    """How late the loop's heartbeat woke during the calls: p50, p95, p99 and worst (ms)."""
    if not values:
        return {}
    ordered = sorted(values)
    def at(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)
    return {"ticks": len(ordered), "p50": at(0.5), "p95": at(0.95), "p99": at(0.99),
            "max": round(ordered[-1], 2)}


def stall_cells(row: dict[str, Any]) -> list[str]:
    """The async rows' heartbeat lateness, registered (bare) calls, for the table."""
    stall = row.get("loop_stall_ms")
    if not stall or not stall["memory"] or not stall["bare"]:
        return ["", ""]
    return [f"{stall['memory']['p99']} ({stall['bare']['p99']})",
            f"{stall['memory']['max']} ({stall['bare']['max']})"]


def summarise(values: Sequence[float]) -> dict[str, float]:
    return {"p50": round(statistics.median(values), 3), "p95": round(percentile(values, 0.95), 3)}


def make_client(kind: str, base_url: str, *, is_async: bool) -> Any:
    """A client of the kind (``openai`` or ``anthropic``) pointed at the stand-in."""
    if kind == "anthropic":
        import anthropic

        cls: Any = anthropic.AsyncAnthropic if is_async else anthropic.Anthropic
    else:
        cls = openai.AsyncOpenAI if is_async else openai.OpenAI
    return cls(base_url=base_url, api_key="bench", max_retries=0)


def ask(kind: str, client: Any, text: str) -> Any:
    """One call (a coroutine for an async client): a chat completion, or a message."""
    messages = [{"role": "user", "content": text}]
    if kind == "anthropic":
        return client.messages.create(model=ANTHROPIC_MODEL, max_tokens=64, messages=messages)
    return client.chat.completions.create(model=MODEL, messages=messages)


def measure_sync(base_url: str, mem: Memori, calls: int, warmup: int,
                 kind: str = "openai") -> dict[str, list[float]]:
    bare = make_client(kind, base_url, is_async=False)
    wrapped = mem.llm.register(make_client(kind, base_url, is_async=False))
    times: dict[str, list[float]] = {"bare": [], "memory": []}
    for i in range(warmup + calls):
        order = [("bare", bare), ("memory", wrapped)]
        if i % 2:
            order.reverse()
        for label, client in order:
            if label == "memory" and NEW_SESSION_EVERY_CALL:
                mem.new_session()
            began = time.perf_counter()
            ask(kind, client, message(QUERY_OFFSET[kind] + i, MESSAGE_WORDS))
            if i >= warmup:
                times[label].append((time.perf_counter() - began) * 1000)
            if SETTLE:
                mem.flush()
    bare.close()
    mem.llm.unregister(wrapped)
    wrapped.close()
    return times


async def heartbeat(ticks: list[tuple[float, float]], period: float = 0.001) -> None:
    """Sleep ``period`` again and again on the loop, noting how late each wake-up is (ms):
    what a coroutine of the application waits while the loop runs something else."""
    while True:
        began = time.perf_counter()
        await asyncio.sleep(period)
        now = time.perf_counter()
        ticks.append((now, max(0.0, (now - began - period) * 1000)))


def measure_async(base_url: str, mem: Memori, calls: int, warmup: int,
                  kind: str = "openai") -> dict[str, list[float]]:
    async def run() -> dict[str, list[float]]:
        bare = make_client(kind, base_url, is_async=True)
        wrapped = mem.llm.register(make_client(kind, base_url, is_async=True))
        mem.attribution(entity_id=ENTITY, process_id=PERSONA)
        times: dict[str, list[float]] = {"bare": [], "memory": [],
                                         "stall_bare": [], "stall_memory": []}
        ticks: list[tuple[float, float]] = []  # (when, how late) of a 1 ms heartbeat
        beating = asyncio.create_task(heartbeat(ticks))
        for i in range(warmup + calls):
            order = [("bare", bare), ("memory", wrapped)]
            if i % 2:
                order.reverse()
            for label, client in order:
                if label == "memory" and NEW_SESSION_EVERY_CALL:
                    mem.new_session()
                began = time.perf_counter()
                first_tick = len(ticks)
                await ask(kind, client, message(QUERY_OFFSET[kind] + 10_000 + i, MESSAGE_WORDS))
                if i >= warmup:
                    times[label].append((time.perf_counter() - began) * 1000)
                    times[f"stall_{label}"].extend(late for _, late in ticks[first_tick:])
                if SETTLE:
                    await mem.aflush()
        beating.cancel()
        await bare.close()
        mem.llm.unregister(wrapped)
        await wrapped.close()
        return times

    return asyncio.run(run())


@contextlib.contextmanager
def full_collections() -> Iterator[list[float]]:
    """The durations (ms) of the full garbage collections that run inside the block."""
    durations: list[float] = []
    began: list[float] = []

    def note(phase: str, info: dict[str, Any]) -> None:
        if info["generation"] != 2:
            return
        if phase == "start":
            began[:] = [time.perf_counter()]
        elif began:
            durations.append(round((time.perf_counter() - began[0]) * 1000, 1))

    gc.callbacks.append(note)
    try:
        yield durations
    finally:
        gc.callbacks.remove(note)


def run_config(
    base_urls: dict[str, str], embedder_name: str, memories: int, calls: int, warmup: int,
    workdir: Path, extractor: str, write_path: str = "guarded") -> list[dict[str, Any]]:
    """Every client kind in ``base_urls`` (kind -> its stand-in), sync and async."""
    embedder = make_embedder(embedder_name)
    if embedder is None:
        return []
    timing = timing_embedder(embedder)
    workdir.mkdir(parents=True, exist_ok=True)
    url = f"sqlite:///{workdir / f'{embedder_name}-{memories}.db'}"
    guards = {} if write_path == "guarded" else {"durability": "memory", "read_your_writes": 0}
    mem = Memori(url, embedder=embedder, extractor=None if extractor == "none" else extractor,
                 **guards)
    retriever = TimingRetriever(mem.retriever)
    inner_retriever = retriever.inner
    if hasattr(inner_retriever, "embedder"):
        inner_retriever.embedder = timing  # time the query embedding only
    mem.retriever = retriever
    corpus_embedder = DiskCachedEmbedder(embedder) if embedder_name == "local" else embedder
    populate_s = populate(mem, memories, corpus_embedder)
    if isinstance(corpus_embedder, DiskCachedEmbedder):
        corpus_embedder.close()
    if GC_FREEZE:
        gc.collect()
        gc.freeze()
    rows = []
    modes = [(kind, mode, measure) for kind in base_urls
             for mode, measure in (("sync", measure_sync), ("async", measure_async))]
    for kind, mode, measure in modes:
        mem.attribution(entity_id=ENTITY, process_id=PERSONA)
        mem.new_session()
        retriever.samples.clear()
        timing.samples.clear()
        with full_collections() as collections:
            times = measure(base_urls[kind], mem, calls, warmup, kind)
        recall = retriever.samples[-calls:]
        embed = timing.samples[-calls:]
        added = [m - b for m, b in zip(times["memory"], times["bare"], strict=True)]
        rows.append({
            "client": kind, "embedder": embedder.name, "memories": memories, "mode": mode,
            "calls": calls, "message_words": MESSAGE_WORDS or len(message(0).split()),
            "bare_ms": summarise(times["bare"]),
            "memory_ms": summarise(times["memory"]),
            "added_ms": summarise(added),
            "embed_ms": summarise(embed),
            "added_excluding_embed_ms": summarise(
                [a - e for a, e in zip(added, embed, strict=True)]),
            "recall_ms": summarise(recall),
            "own_ms": summarise([a - r for a, r in zip(added, recall, strict=True)]),
            "populate_s": round(populate_s, 2),
            "full_gc_ms": collections,
            **({"loop_stall_ms": {"bare": stall_summary(times["stall_bare"]),
                                  "memory": stall_summary(times["stall_memory"])}}
               if mode == "async" else {}),
            "stats": {k: v for k, v in vars(mem.llm.stats).items() if v},
        })
        print(f"  {kind} {embedder.name} memories={memories} {mode}: added p50 "
              f"{rows[-1]['added_ms']['p50']} ms", file=sys.stderr)
    mem.close()
    return rows


def sse_body(chunks: int) -> bytes:
    """A chat completion stream of ``chunks`` content deltas, as the API sends it."""
    def frame(delta: dict[str, Any], finish: str | None) -> str:
        chunk = {"id": "chatcmpl-bench", "object": "chat.completion.chunk", "created": 0,
                 "model": MODEL, "choices": [{"index": 0, "delta": delta,
                                              "finish_reason": finish}]}
        return f"data: {json.dumps(chunk)}\n\n"

    frames = [frame({"content": f"word{i} "}, None) for i in range(chunks)]
    return "".join([*frames, frame({}, "stop"), "data: [DONE]\n\n"]).encode()


def stream_overhead(workdir: Path, chunks: int = 2000, repeats: int = 15) -> dict[str, float]:
    """Per-chunk cost of the recording stream wrapper, with no network in the way: the
    same in-memory SSE body parsed by the SDK's own ``Stream``, bare and wrapped
    (interleaved, best of ``repeats``), and the accumulator alone on parsed chunks."""
    from openai.types.chat import ChatCompletionChunk

    from memori.llm.chat import CHAT
    from memori.llm.engine import CallPlan
    from memori.llm.sink import ReplySink
    from memori.llm.streams import RecordingStream

    body = sse_body(chunks)
    sdk = openai.OpenAI(base_url="http://127.0.0.1:9/v1", api_key="bench")
    mem = Memori(f"sqlite:///{workdir / 'stream.db'}", embedder="hash")
    mem.attribution(entity_id=ENTITY, process_id=PERSONA)
    engine = mem.llm.engine

    def stream() -> openai.Stream[ChatCompletionChunk]:
        response = httpx2.Response(200, content=body,
                                   request=httpx2.Request("POST", "http://127.0.0.1:9"))
        return openai.Stream(cast_to=ChatCompletionChunk, response=response, client=sdk)

    def wrapped() -> Any:
        sink = ReplySink(engine, CallPlan(mem.scope(), {}), CHAT.stream_reply())
        return RecordingStream(stream(), sink)

    def timed(make: Callable[[], Any]) -> float:
        s = make()
        began = time.perf_counter()
        for _ in s:
            pass
        return time.perf_counter() - began

    bare_s, wrapped_s = float("inf"), float("inf")
    for _ in range(repeats):
        bare_s = min(bare_s, timed(stream))
        wrapped_s = min(wrapped_s, timed(wrapped))
    parsed = list(stream())
    feed_s = float("inf")
    for _ in range(repeats):
        reply = CHAT.stream_reply()
        began = time.perf_counter()
        for chunk in parsed:
            reply.feed(chunk)
        feed_s = min(feed_s, time.perf_counter() - began)
    mem.close()
    sdk.close()
    return {
        "chunks": chunks,
        "sdk_us_per_chunk": round(bare_s / chunks * 1e6, 2),
        "wrapped_us_per_chunk": round(wrapped_s / chunks * 1e6, 2),
        "added_us_per_chunk": round((wrapped_s - bare_s) / chunks * 1e6, 2),
        "accumulator_us_per_chunk": round(feed_s / len(parsed) * 1e6, 3),
    }


def start_server(model_latency: float = 0.0,
                 kind: str = "openai") -> tuple[subprocess.Popen[str], str]:
    """The kind's stand-in in its own process; each answer waits ``model_latency`` s."""
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER_CODE, str(model_latency), kind], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    base_url = proc.stdout.readline().strip()
    if not base_url.startswith("http://127.0.0.1:"):
        proc.kill()
        raise RuntimeError(f"the {kind} test server did not start")
    return proc, base_url


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--memories", type=int, default=10_000)
    parser.add_argument("--embedders", default="hash,local")
    parser.add_argument("--clients", default="openai",
                        help="client kinds measured: openai, anthropic (comma-separated)")
    parser.add_argument("--extractor", default="offline",
                        help="augmentation running meanwhile ('none' to switch it off)")
    parser.add_argument("--model-latency", type=float, default=0.0, metavar="MS",
                        help="the server waits this long before each answer, as a model "
                             "does (0: answer at once, so background work of one call "
                             "runs into the next)")
    parser.add_argument("--write-path", default="guarded", choices=["guarded", "unguarded"],
                        help="guarded (the defaults: local journal, read-your-writes wait) "
                             "or unguarded (durability='memory', read_your_writes=0)")
    parser.add_argument("--new-session-every-call", action="store_true",
                        help="each registered call in a new session (waits for the last)")
    parser.add_argument("--no-settle", action="store_true",
                        help="do not wait for each call's background work before the next "
                             "call (back to back: it spills into the next, bare or not)")
    parser.add_argument("--message-words", default="0",
                        help="words of each call's message, comma-separated for several "
                             "(0: the 15-token question; 48: that question led by a story)")
    parser.add_argument("--gc-freeze", action="store_true",
                        help="gc.freeze() once each configuration's store is filled")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    global NEW_SESSION_EVERY_CALL, SETTLE, MESSAGE_WORDS, GC_FREEZE
    GC_FREEZE = args.gc_freeze
    NEW_SESSION_EVERY_CALL = args.new_session_every_call
    SETTLE = not args.no_settle

    servers = {kind.strip(): start_server(args.model_latency / 1000.0, kind.strip())
               for kind in args.clients.split(",")}
    base_urls = {kind: url for kind, (_, url) in servers.items()}
    rows: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for words in (int(w) for w in args.message_words.split(",")):
                MESSAGE_WORDS = words
                for name in args.embedders.split(","):
                    for n in sorted({0, args.memories}):
                        rows += run_config(base_urls, name.strip(), n, args.calls,
                                           args.warmup, Path(tmp) / f"words-{words}",
                                           args.extractor, args.write_path)
            chunk_cost = stream_overhead(Path(tmp))
            alone = (model_alone([int(w) for w in args.message_words.split(",")])
                     if "local" in args.embedders.split(",") else {})
    finally:
        for proc, _ in servers.values():
            assert proc.stdin is not None
            proc.stdin.close()
            proc.wait(timeout=10)

    headers = ["client", "embedder", "words", "memories", "mode", "bare p50", "added p50",
               "added p95", "embed p50", "added-embed p50", "recall p50", "own p50", "own p95",
               "loop stall p99 (bare)", "loop stall max (bare)", "full gc ms"]
    print_table(headers, [
        [r["client"], r["embedder"], r["message_words"], r["memories"], r["mode"],
         r["bare_ms"]["p50"],
         r["added_ms"]["p50"], r["added_ms"]["p95"], r["embed_ms"]["p50"],
         r["added_excluding_embed_ms"]["p50"], r["recall_ms"]["p50"], r["own_ms"]["p50"],
         r["own_ms"]["p95"], *stall_cells(r),
         " ".join(str(ms) for ms in r["full_gc_ms"]) or "-"]
        for r in rows
    ])
    print("(milliseconds per call; 'own' = added minus recall: the interceptor itself; "
          "loop stall: how late a 1 ms heartbeat on the event loop woke during the "
          "registered calls, and during the bare ones; full gc: each full garbage "
          "collection while the row's calls ran)")
    print(f"stream wrapper: {chunk_cost['added_us_per_chunk']} us added per chunk, of which "
          f"the reply accumulator {chunk_cost['accumulator_us_per_chunk']} us "
          f"(the SDK's own parsing: {chunk_cost['sdk_us_per_chunk']} us per chunk)")
    for w, ms in alone.items():
        print(f"the model alone, {w}-word message as retrieval embeds it: p50 {ms['p50']} ms, "
              f"p95 {ms['p95']} ms (one at a time, nothing else running)")
    write_result(args.output, {
        "benchmark": "interception",
        "description": "latency added to chat.completions.create (and, with --clients, "
                       "Anthropic's messages.create) by a registered client",
        "machine": {**machine_info(), "load_average": list(os.getloadavg())},
        "server": "memori.testing.OpenAIServer (AnthropicServer for anthropic) in a separate "
                  "process on 127.0.0.1",
        "backend": "sqlite",
        "augmentation": args.extractor,
        "write_path": args.write_path,
        "new_session_every_call": args.new_session_every_call,
        "settled": SETTLE,
        "gc_frozen": GC_FREEZE,
        "model_latency_ms": args.model_latency,
        "calls_per_config": args.calls,
        "results": rows,
        "stream_chunk_overhead": chunk_cost,
        "model_alone_ms": alone,
    })
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

