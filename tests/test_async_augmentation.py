"""Augmentation as a task on the app's event loop: the real AsyncOpenAI client against the
loopback server, SQLite, no sleeps to wait for extraction."""

from __future__ import annotations

import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import openai
import pytest

from memori import Memori
from memori.config import open_backend
from memori.core import ExtractState, Memory, Scope, Turn
from memori.core.errors import FlushError
from memori.extractors import AsyncLLMExtractor, OfflineExtractor
from memori.pipeline import AsyncOutboxWorker, FlushOnLoopError, Reconciler
from memori.testing import OpenAIServer, RecordedRequest, Reply

CHAT = "gpt-4o-mini"
EXTRACTOR = "extractor"


def user_turn(entity: str, text: str, process: str | None = None) -> Turn:
    return Turn(entity_id=entity, process_id=process, session_id="s", role="user", content=text)


def memory_reply(*contents: str, delay: float = 0.0) -> Reply:
    return Reply.json({"memories": [
        {"content": c, "kind": "fact", "shared": False, "slot": None} for c in contents
    ]}, delay=delay)


def echo_facts(request: RecordedRequest) -> Reply:
    """The extractor model: one memory per user line it was shown."""
    lines = [ln.removeprefix("user: ") for ln in request.last_user_text.splitlines()
             if ln.startswith("user: ")]
    return memory_reply(*(f"The user said: {ln}" for ln in lines))


def db_url(tmp_path: Path, name: str = "m.db") -> str:
    return f"sqlite:///{tmp_path / name}"


class Heartbeat:
    """A task ticking every millisecond. Per tick it keeps the wall-clock delay past the
    period and the CPU time the loop's thread spent: a machine shared by many processes
    delays ticks (the OS, the GIL) without that thread doing anything, while work run
    on the loop shows up as CPU time of its thread."""

    def __init__(self, period: float = 0.001) -> None:
        self.period = period
        self.late: list[float] = []
        self.cpu: list[float] = []
        self._task: asyncio.Task[None] | None = None

    async def _run(self) -> None:
        while True:
            wall, cpu = time.perf_counter(), time.thread_time()
            await asyncio.sleep(self.period)
            self.late.append(time.perf_counter() - wall - self.period)
            self.cpu.append(time.thread_time() - cpu)

    async def __aenter__(self) -> Heartbeat:
        self._task = asyncio.create_task(self._run())
        await asyncio.sleep(0.01)
        self.late.clear()
        self.cpu.clear()
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)

    def report(self) -> str:
        late, cpu = sorted(self.late), sorted(self.cpu)
        return (f"{len(late)} ticks; late p50 {late[len(late) // 2] * 1e3:.2f} ms, "
                f"worst {late[-1] * 1e3:.1f} ms; loop CPU per tick p99 "
                f"{cpu[int(len(cpu) * 0.99)] * 1e3:.2f} ms, worst {cpu[-1] * 1e3:.2f} ms")


SYNC_CALLS = ("outbox_pending", "outbox_mark", "append_turns", "put_memories", "get_memory",
              "list_memories", "search_memories", "update_memory", "list_turns")


def spy_on_loop_thread(mem: Memori, extractor: Any) -> list[str]:
    """Wrap the real sync store, reconciler, embedder and extractor calls; the returned
    list names every one of them that ran on the event loop's thread."""
    loop_thread = threading.get_ident()
    on_loop: list[str] = []

    def spied(name: str, method: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if threading.get_ident() == loop_thread:
                on_loop.append(name)
            return method(*args, **kwargs)
        return call

    for name in SYNC_CALLS:
        setattr(mem.store, name, spied(name, getattr(mem.store, name)))
    mem._reconciler.apply = spied("reconcile", mem._reconciler.apply)  # type: ignore[method-assign]
    assert mem.embedder is not None
    mem.embedder.embed = spied("embed", mem.embedder.embed)  # type: ignore[method-assign]
    if hasattr(extractor, "extract"):
        extractor.extract = spied("extract", extractor.extract)
    return on_loop


async def test_turn_facts_are_recalled_at_the_next_turn_after_aflush(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    aclient = openai_server.async_client()
    mem = Memori(db_url(tmp_path), embedder="hash",
                 extractor=AsyncLLMExtractor(aclient, EXTRACTOR))
    chat = mem.llm.register(aclient)  # the extractor's own calls go through it too: paused
    mem.attribution(entity_id="dan", process_id="coach")
    openai_server.enqueue(memory_reply("The user is vegetarian."), model=EXTRACTOR)

    await chat.chat.completions.create(
        model=CHAT, messages=[{"role": "user", "content": "I'm vegetarian, by the way."}])
    assert await mem.aflush()
    await chat.chat.completions.create(
        # a question with evidence for the fact (the relevance floor keeps out the rest)
        model=CHAT, messages=[{"role": "user", "content": "Am I still vegetarian?"}])

    sent = json.dumps(openai_server.last_request("chat", model=CHAT).messages)
    assert "The user is vegetarian." in sent
    assert mem._worker is not None and mem._worker.mode == "task"
    openai_server.enqueue(memory_reply(), model=EXTRACTOR)
    assert await mem.aflush()
    assert len(openai_server.chat_requests(model=EXTRACTOR)) == 2
    turns = mem.store.list_turns(mem.scope())
    assert [t.role for t in turns] == ["user", "assistant"] * 2  # extraction calls: paused
    assert all(t.extract_state is ExtractState.DONE for t in turns)
    await mem.aclose()
    await aclient.close()


async def test_malformed_output_is_retried_then_parked_and_the_task_survives(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    aclient = openai_server.async_client()
    openai_server.enqueue(*["this is {not json"] * 4, model=EXTRACTOR)
    openai_server.enqueue(memory_reply("The user owns a cat."), model=EXTRACTOR)
    async with Memori(db_url(tmp_path), embedder="hash",
                      extractor=AsyncLLMExtractor(aclient, EXTRACTOR)) as mem:
        assert mem._worker is not None
        task = mem._worker.task  # built on this loop at once: the extractor is async
        assert task is not None and task.alive
        mem.attribution(entity_id="erin")
        mem.record([user_turn("erin", "gibberish turn")])
        with pytest.raises(FlushError, match="parked"):
            await mem.aflush(timeout=30)
        assert mem.metrics.failed == 4 and mem.metrics.parked == 1
        parked = mem.store.list_turns(Scope("erin", None, "s"))[0]
        assert parked.extract_state is ExtractState.PARKED and parked.extract_attempts == 4
        assert parked.extract_error and "not JSON" in parked.extract_error

        mem.record([user_turn("erin", "I own a cat.")])
        assert await mem.aflush(timeout=30)
        assert mem._worker.task is task and task.alive
        assert [m.content for m in mem.store.list_memories(Scope("erin"))] == [
            "The user owns a cat."]
        assert len(openai_server.chat_requests(model=EXTRACTOR)) == 5
    assert not task.alive
    await aclient.close()


async def test_a_poison_turn_is_parked_alone_and_its_batch_neighbour_is_extracted(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    def model(request: RecordedRequest) -> Reply | str:
        return "{broken" if "poison" in request.last_user_text else echo_facts(request)

    openai_server.set_responder(model, model=EXTRACTOR)
    aclient = openai_server.async_client()
    async with Memori(db_url(tmp_path), embedder="hash",
                      extractor=AsyncLLMExtractor(aclient, EXTRACTOR)) as mem:
        mem.record([user_turn("hal", "I keep bees."), user_turn("hal", "poison pill")])
        with pytest.raises(FlushError, match="1 turn"):
            await mem.aflush(timeout=30)
        good, bad = mem.store.list_turns(Scope("hal", None, "s"))
        assert good.extract_state is ExtractState.DONE and good.extract_attempts == 1
        assert bad.extract_state is ExtractState.PARKED and bad.extract_attempts == 4
        assert [m.content for m in mem.store.list_memories(Scope("hal"))] == [
            "The user said: I keep bees."]
        assert mem.metrics.parked == 1 and mem.metrics.processed == 1
        shown = [r.last_user_text for r in openai_server.chat_requests(model=EXTRACTOR)]
        assert shown[0] == "user: I keep bees.\nuser: poison pill"  # one batch at first,
        assert shown[1:].count("user: poison pill") == 3  # then each turn on its own
    await aclient.close()


@pytest.mark.parametrize("kind", ["async-llm", "offline"])
async def test_the_loop_never_stalls_while_many_turns_are_extracted(
    tmp_path: Path, openai_server: OpenAIServer, kind: str
) -> None:
    aclient = openai_server.async_client()
    openai_server.set_responder(echo_facts, model=EXTRACTOR)
    extractor: Any = (AsyncLLMExtractor(aclient, EXTRACTOR) if kind == "async-llm"
                      else OfflineExtractor())
    mem = Memori(db_url(tmp_path), embedder="hash", extractor=extractor)
    mem.record([user_turn("warm-up", "I keep a warm-up plant.")])  # first-use imports, etc.
    assert await mem.aflush(timeout=30)
    on_loop = spy_on_loop_thread(mem, extractor)
    turns = [user_turn(f"user-{i % 8}", f"I keep {i} plants on balcony number {i}.")
             for i in range(160)]
    # The collector's full passes walk every object of the process (late in the suite,
    # millions of the earlier tests'); they run on whichever thread allocates and cost
    # the loop a few hundred ms of CPU that measure the heap, not memori. Freeze it.
    gc.collect()
    gc.freeze()
    try:
        async with Heartbeat() as beat:
            for i in range(0, len(turns), 4):  # as an app would: a few turns per model call
                mem.record(turns[i:i + 4])
                await asyncio.sleep(0)
            assert await mem.aflush(timeout=120)
    finally:
        gc.unfreeze()
    assert on_loop == []  # no database, embedding or sync extraction work ran on the loop
    stored = [t for u in range(8) for t in mem.store.list_turns(Scope(f"user-{u}", None, "s"))]
    errors = {t.extract_error for t in stored if t.extract_error}
    assert mem.metrics.processed == 161, errors
    assert len(stored) == 160 and {t.extract_state for t in stored} == {ExtractState.DONE}
    sources = {s for u in range(8) for m in mem.store.list_memories(Scope(f"user-{u}"))
               for s in m.source_turn_ids}
    assert sources == {t.id for t in turns}  # every turn's fact is in a memory

    assert len(beat.late) > 50, beat.report()  # the heartbeat kept ticking throughout
    # What runs on the loop: scheduling, and for the async LLM extractor the openai
    # client's request and response handling (about 2 ms a call, a few calls a tick).
    # The ticks' wall-clock lateness is in the report, not asserted: on a busy shared
    # machine it mostly measures the OS and the GIL (tens of ms with the loop idle).
    # So does the CPU of the odd tick (a tick's thread CPU grows when other processes
    # share the cores), which the report shows but nothing asserts: what is asserted is
    # that no blocking call ran on the loop (above) and that 99% of the ticks stay light.
    cpu = sorted(beat.cpu)
    assert cpu[int(len(cpu) * 0.99)] < 0.015, beat.report()
    print(f"{kind}: {beat.report()}")
    await mem.aclose()
    await aclient.close()


class CountingExtractor(AsyncLLMExtractor):
    """The real async LLM extractor, counting the calls in flight (overall and per entity)."""

    def __init__(self, client: openai.AsyncOpenAI, model: str) -> None:
        super().__init__(client, model)
        self.now = 0
        self.most = 0
        self.entities: list[str] = []
        self.overlap_in_entity = False

    async def aextract(self, turns: Sequence[Turn]) -> list[Memory]:
        entity = turns[0].entity_id
        self.overlap_in_entity |= entity in self.entities
        self.entities.append(entity)
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await super().aextract(turns)
        finally:
            self.now -= 1
            self.entities.remove(entity)


class WithoutAsyncOutbox:
    """The SQLite store seen without ``aoutbox_pending``/``aoutbox_mark`` (as the MongoDB
    and Qdrant stores are today): the worker must run the sync twins in a thread."""

    def __init__(self, store: Any) -> None:
        self._store = store

    def __getattr__(self, name: str) -> Any:
        if name in ("aoutbox_pending", "aoutbox_mark"):
            raise AttributeError(name)
        return getattr(self._store, name)


@pytest.mark.parametrize("outbox", ["native-async", "sync-in-thread"])
async def test_at_most_n_entity_batches_are_in_flight(
    tmp_path: Path, openai_server: OpenAIServer, outbox: str
) -> None:
    aclient = openai_server.async_client()
    openai_server.set_responder(
        lambda r: memory_reply(f"Fact from {r.last_user_text[:40]}", delay=0.05),
        model=EXTRACTOR)
    store = open_backend(db_url(tmp_path), vector_dim=None)
    store.setup()
    seen: Any = store if outbox == "native-async" else WithoutAsyncOutbox(store)
    assert hasattr(seen, "aoutbox_pending") is (outbox == "native-async")
    extractor = CountingExtractor(aclient, EXTRACTOR)
    worker = AsyncOutboxWorker(seen, extractor, Reconciler(seen), concurrency=3)
    worker.policy.batch_size = 4  # several passes, each with a few entities
    await asyncio.to_thread(store.append_turns, [
        user_turn(f"e{i % 10}", f"turn {i} of entity {i % 10}") for i in range(30)])
    worker.start()
    assert await worker.drain(timeout=60)
    assert extractor.most == 3  # the bound was reached and never passed
    assert not extractor.overlap_in_entity  # one batch of an entity at a time
    assert await asyncio.to_thread(store.outbox_pending, 100) == []
    assert worker.stats.processed == 30
    await worker.aclose()
    assert not worker.alive
    await asyncio.to_thread(store.close)
    await aclient.close()


class LoopBoundOffline:
    """The offline extractor behind ``aextract`` only: bound to the loop, like an async client."""

    name = "loop-bound-offline"

    async def aextract(self, turns: Sequence[Turn]) -> list[Memory]:
        return OfflineExtractor().extract(turns)


def test_a_notify_while_the_task_worker_starts_does_not_drop_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recorder's thread calls notify() whenever it stored turns, also while the loop
    starts the task worker: a worker not started yet looked dead to it and was dropped,
    so a script that recorded turns and then slept never extracted them (1 run in 5)."""
    mem = Memori(db_url(tmp_path), embedder="hash", extractor=LoopBoundOffline())
    runner = mem._worker
    assert runner is not None and runner.task is None  # built outside a loop: no task yet
    start = AsyncOutboxWorker.start
    notifiers: list[threading.Thread] = []

    def start_while_the_recorder_notifies(worker: AsyncOutboxWorker) -> None:
        notifier = threading.Thread(target=runner.notify)  # at the worst moment
        notifiers.append(notifier)
        notifier.start()
        notifier.join(timeout=1)  # it may wait for the runner's lock, held here
        start(worker)

    monkeypatch.setattr(AsyncOutboxWorker, "start", start_while_the_recorder_notifies)

    async def app() -> int:
        mem.record([user_turn("ivy", "I live in Lisbon.")])  # the first use on this loop
        for notifier in notifiers:
            notifier.join(timeout=10)
        task = runner.task
        assert task is not None and task.alive, "the starting worker was dropped"
        for _ in range(1000):  # extraction runs by itself: no flush asked
            if mem.metrics.processed:
                break
            await asyncio.sleep(0.01)
        processed = mem.metrics.processed
        await mem.aclose()
        return processed

    assert asyncio.run(app()) == 1


async def test_sync_flush_on_the_loop_thread_raises_only_when_it_would_have_to_wait(
    tmp_path: Path,
) -> None:
    mem = Memori(db_url(tmp_path), embedder="hash", extractor=LoopBoundOffline())
    mem.attribution(entity_id="fay")
    mem.record([user_turn("fay", "I live in Lisbon.")])  # from the loop: the task takes over
    assert mem._worker is not None and mem._worker.mode == "task"
    with pytest.raises(FlushOnLoopError, match=r"await mem\.aflush"):
        mem.flush()
    assert await mem.aflush(timeout=30)
    assert mem.flush() is True  # nothing left: no need to wait
    # from another thread a sync flush waits on the loop's task, which keeps running
    mem.record([user_turn("fay", "I work at the harbour.")])
    assert await asyncio.to_thread(mem.flush, 30)
    assert mem.metrics.processed == 2 and mem._worker.mode == "task"
    await mem.aclose()


async def test_sync_close_on_the_loop_thread_stops_cleanly_and_the_turn_waits(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    mem = Memori(db_url(tmp_path), embedder="hash", extractor=LoopBoundOffline())
    mem.record([user_turn("ivy", "I live in Rome.")])
    assert mem._worker is not None
    task = mem._worker.task
    assert task is not None and task.alive
    mem.close()  # sync, on the loop's thread: it cannot wait for the task, nor hang
    await asyncio.sleep(0)  # the cancelled task ends at the loop's next turn
    assert not task.alive
    assert [t for t in asyncio.all_tasks() if t.get_name().startswith("memori-")] == []
    assert "pending turns resume at the next run" in caplog.text
    with Memori(db_url(tmp_path), embedder="hash", extractor="offline") as again:
        assert again.flush(timeout=30)  # sync code: the thread worker
        assert [m.content for m in again.store.list_memories(Scope("ivy"))] == [
            "I live in Rome."]


def test_a_sync_extractor_stays_on_its_thread_in_sync_and_async_code(tmp_path: Path) -> None:
    """Sync code, then ``asyncio.run``, then sync code again: one worker thread throughout
    (only a loop-bound extractor runs on the application's loop)."""
    with Memori(db_url(tmp_path), embedder="hash", extractor="offline") as mem:
        assert mem._worker is not None
        mem.record([user_turn("gus", "I live in Oslo.")])
        assert mem.flush(timeout=30) and mem._worker.mode == "thread"

        async def app() -> str:
            mem.record([user_turn("gus", "I work at the museum.")])
            assert await mem.aflush(timeout=30)
            assert mem._worker is not None and mem._worker.task is None
            return mem._worker.mode

        assert asyncio.run(app()) == "thread"
        mem.record([user_turn("gus", "My favourite colour is green.")])
        assert mem.flush(timeout=30) and mem._worker.mode == "thread"
        assert mem.metrics.processed == 3 and mem.metrics.failed == 0
        assert sorted(m.content for m in mem.store.list_memories(Scope("gus"))) == [
            "I live in Oslo.", "I work at the museum.", "My favourite colour is green."]


SCRIPT = textwrap.dedent("""
    import asyncio, sys
    from openai import AsyncOpenAI
    from memori import Memori
    from memori.extractors import AsyncLLMExtractor
    from memori.core import Turn

    url, base_url, mode = sys.argv[1:4]
    # built before the loop runs (opening the store is sync work): the task worker
    # starts on the loop at its first use there
    client = AsyncOpenAI(base_url=base_url, api_key="test", max_retries=0)
    mem = Memori(url, embedder="hash", extractor=AsyncLLMExtractor(client, "extractor"))

    client.chat.completions  # the client's lazy imports, before the loop runs

    async def main() -> None:
        # dev mode reports callbacks over 0.1 s: on a busy shared machine one-off work can
        # take that long (the event loop stalls are measured by a heartbeat elsewhere)
        asyncio.get_running_loop().slow_callback_duration = 1.0
        for i in range(6):
            mem.record([Turn(entity_id=f"u{i % 2}", session_id="s", role="user",
                             content=f"I keep {i} bikes.")])
        if mode == "clean":
            assert await mem.aflush(timeout=30)
            await mem.aclose()
        elif mode == "kill":
            await asyncio.sleep(600)  # the parent kills the process mid-extraction
        await client.close()

    asyncio.run(main())
    print("done")
""")


def run_app(tmp_path: Path, server: OpenAIServer, mode: str) -> subprocess.Popen[str]:
    script = tmp_path / "app.py"
    script.write_text(SCRIPT)
    return subprocess.Popen(
        [sys.executable, "-X", "dev", "-W", "error", str(script), db_url(tmp_path),
         server.base_url, mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def stored_facts(url: str) -> list[tuple[str, int]]:
    with Memori(url, embedder="hash", extractor=None) as mem:
        return sorted((m.content, m.count) for u in ("u0", "u1")
                      for m in mem.store.list_memories(Scope(u)))


BIKES = sorted((f"The user said: I keep {i} bikes.", 1) for i in range(6))


def test_aclose_ends_the_task_cleanly_under_dev_mode_and_warnings_as_errors(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    openai_server.set_responder(echo_facts, model=EXTRACTOR)
    app = run_app(tmp_path, openai_server, "clean")
    out, err = app.communicate(timeout=120)
    assert app.returncode == 0 and out.strip() == "done", err
    assert err == ""  # no pending-task, never-awaited or unclosed-resource report, no warning
    assert stored_facts(db_url(tmp_path)) == BIKES


def test_a_loop_that_ends_without_aclose_leaves_turns_pending_for_the_next_process(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    openai_server.set_responder(echo_facts, model=EXTRACTOR)
    app = run_app(tmp_path, openai_server, "forgot-close")
    out, err = app.communicate(timeout=120)
    assert app.returncode == 0 and out.strip() == "done", err
    assert "Task was destroyed" not in err and "never awaited" not in err
    url = db_url(tmp_path)

    async def next_process() -> list[tuple[str, int]]:
        aclient = openai_server.async_client()
        async with Memori(url, embedder="hash",
                          extractor=AsyncLLMExtractor(aclient, EXTRACTOR)) as mem:
            assert await mem.aflush(timeout=30)
            assert mem.store.outbox_pending(10) == []
        await aclient.close()
        return stored_facts(url)

    assert asyncio.run(next_process()) == BIKES


def test_sigkill_mid_extraction_then_the_next_process_resumes_without_duplicates(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    slow = threading.Event()

    def responder(request: RecordedRequest) -> Reply:
        reply = echo_facts(request)
        return Reply(text=reply.text, delay=30.0) if slow.is_set() else reply

    openai_server.set_responder(responder, model=EXTRACTOR)
    slow.set()  # the first process never gets an answer before it is killed
    app = run_app(tmp_path, openai_server, "kill")
    try:
        openai_server.wait_for_requests(2, "chat", model=EXTRACTOR, timeout=60)
    except TimeoutError:
        app.kill()
        pytest.fail(f"the app made no extraction call: {app.communicate()[1]}")
    os.kill(app.pid, signal.SIGKILL)
    app.communicate(timeout=30)
    slow.clear()
    url = db_url(tmp_path)

    async def next_process() -> None:
        aclient = openai_server.async_client()
        async with Memori(url, embedder="hash",
                          extractor=AsyncLLMExtractor(aclient, EXTRACTOR)) as mem:
            assert len(mem.store.outbox_pending(10)) == 6  # nothing was lost
            assert await mem.aflush(timeout=30)
        await aclient.close()

    asyncio.run(next_process())
    assert stored_facts(url) == BIKES
