"""Foreground first: the gate background work waits at, and the query embedding that
runs while the text searches do (on a real SQLite store)."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from memori import Memori
from memori.config import open_backend
from memori.core import Memory, MemoryStore, Scope, Turn
from memori.embedders import HashEmbedder
from memori.pipeline.gate import ForegroundGate
from memori.retrieval import HybridRetriever
from memori.retrieval import overlap as overlap_module

EMBEDDER = HashEmbedder(dim=64)


class GilFreeEmbedder:
    """The hash embedder, declared GIL-free, recording the thread each call ran on."""

    gil_free = True

    def __init__(self, delay: float = 0.0) -> None:
        self.name, self.dim = EMBEDDER.name, EMBEDDER.dim
        self.delay = delay
        self.threads: list[str] = []
        self.finished: list[float] = []

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.threads.append(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        self.finished.append(time.monotonic())
        return EMBEDDER.embed(texts)


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MemoryStore]:
    s = open_backend(f"sqlite:///{tmp_path / 'f.db'}", vector_dim=EMBEDDER.dim)
    s.setup()
    texts = ["the user runs every morning by the river", "the user plays the piano",
             "the user dislikes spicy food", "a river cruise is planned for June"]
    s.put_memories([Memory("u", t, created_at=1000.0 + i,
                           embedding=tuple(EMBEDDER.embed([t])[0])) for i, t in enumerate(texts)])
    s.append_turns([Turn("u", "s1", "user", f"did you see the river {i}", created_at=2000.0 + i,
                         embedding=tuple(EMBEDDER.embed([f"river {i}"])[0])) for i in range(5)])
    yield s
    s.close()


def _ids(hits: Sequence[object]) -> list[tuple[str, float]]:
    return [(h.id, round(h.score, 9)) for h in hits]  # type: ignore[attr-defined]


def test_gate_waits_for_the_foreground_and_gives_up_after_max_wait() -> None:
    gate = ForegroundGate(max_wait=0.2)
    assert gate.wait_idle() is True and gate.waits == 0
    released: list[float] = []

    def background() -> None:
        began = time.monotonic()
        assert gate.wait_idle() is True
        released.append(time.monotonic() - began)

    with gate.busy():
        assert gate.active == 1
        worker = threading.Thread(target=background)
        worker.start()
        time.sleep(0.05)
        assert not released  # still waiting while the foreground read runs
    worker.join(5)
    assert released and gate.waits == 1 and gate.active == 0

    with gate.busy():  # a foreground read longer than max_wait: background goes ahead
        assert gate.wait_idle() is False
    with pytest.raises(ValueError):
        ForegroundGate(max_wait=-1)


def test_nested_busy_blocks_until_the_outer_block_ends() -> None:
    gate = ForegroundGate(max_wait=0.01)
    with gate.busy():
        with gate.busy():
            assert gate.active == 2
        assert gate.active == 1 and gate.wait_idle() is False
    assert gate.active == 0 and gate.wait_idle() is True


def test_recording_waits_while_recall_holds_the_gate(tmp_path: Path) -> None:
    mem = Memori(f"sqlite:///{tmp_path / 'm.db'}", embedder="hash", extractor=None)
    mem.foreground.max_wait = 5.0
    mem.attribution(entity_id="u")
    try:
        with mem.foreground.busy():
            mem.record([Turn("u", mem.scope().session_id or "s", "user", "hello there")])
            time.sleep(0.2)
            assert mem.store.count_turns(Scope("u")) == 0  # the writer waits at the gate
        assert mem.flush(timeout=10)
        assert mem.store.count_turns(Scope("u")) == 1
        assert mem.foreground.waits >= 1
    finally:
        mem.close()


def test_overlapped_embedding_gives_the_same_hits_and_runs_off_the_caller(
    store: MemoryStore,
) -> None:
    plain = HybridRetriever(embedder=EMBEDDER)
    aside = GilFreeEmbedder()
    overlapped = HybridRetriever(embedder=aside)
    scope = Scope("u", None, "s1")
    for query in ("river morning", "what about the piano?", "spicy food"):
        want = plain.retrieve(store, scope, query, limit=5)
        got = overlapped.retrieve(store, scope, query, limit=5)
        assert want and _ids(got) == _ids(want)
        assert any("vector" in name for h in got for name in h.signals)
    assert aside.threads and all(t.startswith("memori-embed") for t in aside.threads)


def test_a_full_pool_embeds_in_the_callers_thread(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(overlap_module, "_in_flight", overlap_module.WORKERS)
    aside = GilFreeEmbedder()
    hits = HybridRetriever(embedder=aside).retrieve(store, Scope("u", None, "s1"), "river")
    assert hits and aside.threads == [threading.current_thread().name]


def _aside_in_child(out: Any) -> None:
    future = overlap_module.embed_aside(GilFreeEmbedder(), "in the child")
    out.put(None if future is None else future.result(timeout=30))


@pytest.mark.skipif(not hasattr(os, "register_at_fork"), reason="no os.fork here")
def test_a_forked_child_embeds_aside_on_a_pool_of_its_own() -> None:
    """The parent's pool (its threads idle) is not the child's: a query handed to it
    there waited forever (a pre-forking server whose parent recalled before forking)."""
    first = overlap_module.embed_aside(GilFreeEmbedder(), "in the parent")
    assert first is not None and first.result(timeout=30)
    context = multiprocessing.get_context("fork")
    out = context.Queue()
    child = context.Process(target=_aside_in_child, args=(out,))
    child.start()
    child.join(60)
    if child.is_alive():
        child.kill()
        child.join()
        pytest.fail("the child's query waited for the parent's pool")
    assert child.exitcode == 0
    assert out.get(timeout=5) == EMBEDDER.embed(["in the child"])[0]


def test_text_searches_run_while_the_query_is_embedded(store: MemoryStore) -> None:
    aside = GilFreeEmbedder(delay=0.3)
    searched: list[float] = []
    original = store.search_memories

    def timed(*args: object, **kwargs: object) -> object:
        if kwargs.get("text") is not None:
            searched.append(time.monotonic())
        return original(*args, **kwargs)  # type: ignore[arg-type]

    store.search_memories = timed  # type: ignore[method-assign]
    HybridRetriever(embedder=aside).retrieve(store, Scope("u"), "river", limit=3)
    assert searched and aside.finished and searched[0] < aside.finished[0]


async def test_aretrieve_on_a_threaded_store_matches_retrieve(
    store: MemoryStore, monkeypatch: pytest.MonkeyPatch,
) -> None:
    hops: list[str] = []
    original = store.search_memories

    def search(*args: object, **kwargs: object) -> object:
        hops.append(threading.current_thread().name)
        return original(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(store, "search_memories", search)
    r = HybridRetriever(embedder=EMBEDDER)
    scope = Scope("u", None, "s1")
    got = await r.aretrieve(store, scope, "river", limit=5)
    assert len(hops) == 2 and len(set(hops)) == 1  # both searches in one worker thread
    assert hops[0] != threading.current_thread().name
    assert _ids(got) == _ids(r.retrieve(store, scope, "river", limit=5))


def test_the_task_workers_batch_waits_at_the_gate_in_its_thread(store: MemoryStore) -> None:
    from memori.extractors.resolve import resolve_extractor
    from memori.pipeline.async_worker import AsyncOutboxWorker
    from memori.pipeline.outbox_logic import OutboxPolicy
    from memori.pipeline.reconcile import Reconciler

    gate = ForegroundGate(max_wait=5.0)
    turns = [Turn("w", "s1", "user", "I moved to Lisbon last year")]
    store.append_turns(turns)
    worker = AsyncOutboxWorker(store, resolve_extractor("offline"), Reconciler(store),
                               gate=gate)
    done = OutboxPolicy().succeeded(turns)
    finished = threading.Event()

    def commit() -> None:
        worker._commit(done, turns, None, time.monotonic())
        finished.set()

    with gate.busy():
        thread = threading.Thread(target=commit)
        thread.start()
        assert not finished.wait(0.2)  # the batch waits while the foreground reads
        assert store.count_memories(Scope("w")) == 0
    thread.join(10)
    assert finished.is_set() and store.count_memories(Scope("w")) >= 1
    assert gate.waits == 1
