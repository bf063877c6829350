"""The local model embedding a query on its worker thread while the caller reads the
store: the same vectors and hits as embedding first, errors and a busy worker handled,
and the LLM path starting it before it reads the session."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import threading
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from memori import Memori
from memori.config import open_backend
from memori.core import Memory, MemoryStore, Scope, SupportsEmbedBeside, Turn
from memori.embedders import LocalEmbedder, beside
from memori.retrieval import HybridRetriever
from memori.testing import OpenAIServer

QUESTIONS = [
    "What do you remember about my running morning?",
    "which instrument do I play",
    "Did I say anything about spicy food last week?",
    "花生过敏",
]


@pytest.fixture(scope="module")
def local() -> LocalEmbedder:
    embedder = LocalEmbedder(cache_size=0)
    assert embedder.wait_for_int8()
    return embedder


def test_beside_gives_the_vector_embed_gives(local: LocalEmbedder) -> None:
    assert isinstance(local, SupportsEmbedBeside)
    for text in QUESTIONS:
        assert local.embed_beside(text).result() == local.embed([text])[0]


def test_beside_runs_the_model_off_the_callers_thread(
    local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch,
) -> None:
    runtime = local._ensure_runtime()
    threads: list[str] = []
    real = runtime.session

    class Session:
        def run(self, *args: Any) -> Any:
            threads.append(threading.current_thread().name)
            return real.run(*args)

    monkeypatch.setattr(runtime, "session", Session())
    local.embed_beside(QUESTIONS[0]).result()
    assert threads == ["memori-embed-beside"]


def test_a_cached_query_starts_nothing() -> None:
    cached = LocalEmbedder()
    vector = cached.embed([QUESTIONS[1]])[0]
    pending = cached.embed_beside(QUESTIONS[1])
    assert pending._job is None and pending.result() == vector


def test_many_threads_at_once_get_their_own_vectors(local: LocalEmbedder) -> None:
    """One worker: while it is busy, a caller runs the model itself."""
    want = {t: local.embed([t])[0] for t in QUESTIONS}
    got: list[tuple[str, list[float]]] = []
    lock = threading.Lock()

    def ask(text: str) -> None:
        for _ in range(5):
            vector = local.embed_beside(text).result()
            with lock:
                got.append((text, vector))

    threads = [threading.Thread(target=ask, args=(t,)) for t in QUESTIONS * 2]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(got) == 40 and all(vector == want[text] for text, vector in got)


def test_an_error_in_the_run_reaches_the_caller_and_frees_the_worker() -> None:
    def fail() -> None:
        raise RuntimeError("the model broke")

    with pytest.raises(RuntimeError, match="the model broke"):
        beside.start(fail).result()
    assert beside.start(lambda: 42).result() == 42


def test_a_busy_worker_is_not_waited_for_when_the_caller_must_not() -> None:
    release = threading.Event()
    busy = beside.start(release.wait)
    ran: list[str] = []
    try:
        assert beside.start(lambda: ran.append("here"), inline_if_busy=False) is None
        assert ran == []
    finally:
        release.set()
        busy.result()


LINUX_CPUS = hasattr(os, "sched_getaffinity") and len(os.sched_getaffinity(0)) > 1


def _where() -> tuple[int, frozenset[int]]:
    """The CPU the calling thread runs on and those it may use."""
    import ctypes

    return ctypes.CDLL(None).sched_getcpu(), frozenset(os.sched_getaffinity(0))


@pytest.mark.skipif(not LINUX_CPUS, reason="threads are placed on Linux with 2+ CPUs")
def test_the_worker_runs_each_job_off_the_callers_cpu() -> None:
    """Linux wakes the worker on its waker's CPU; there the model ran only while the
    caller paused. Each job names the caller's other CPUs, and the worker keeps to them."""
    mine = os.sched_getaffinity(0)
    for _ in range(20):
        caller_cpu, caller_cpus = _where()
        worker_cpu, worker_cpus = beside.start(_where).result()
        assert caller_cpu not in worker_cpus
        assert worker_cpus == caller_cpus - {caller_cpu}
        assert worker_cpu in worker_cpus
    assert os.sched_getaffinity(0) == mine  # the worker's thread was placed, not the caller


@pytest.mark.skipif(not LINUX_CPUS, reason="threads are placed on Linux with 2+ CPUs")
def test_a_thread_working_beside_a_job_it_did_not_start_keeps_the_worker_off_its_cpu(
) -> None:
    """The event loop starts a long message's model; its reads run in another thread,
    which moves the worker off its own CPU while the job runs (and not after)."""
    allowed = frozenset(os.sched_getaffinity(0))
    release = threading.Event()
    job = beside.start(lambda: (release.wait(), _where())[1])

    def from_a_thread() -> tuple[int, frozenset[int]] | None:
        """(the thread's CPU, the worker's CPUs after its keep_apart), or None if the
        thread moved meanwhile."""
        seen: list[tuple[int, frozenset[int]] | None] = []

        def work_beside() -> None:
            before = _where()[0]
            job.keep_apart()
            after = _where()[0]
            assert beside._tid is not None
            seen.append((before, frozenset(os.sched_getaffinity(beside._tid)))
                        if before == after else None)

        thread = threading.Thread(target=work_beside)
        thread.start()
        thread.join()
        return seen[0]

    try:
        rounds = [r for r in (from_a_thread() for _ in range(20)) if r is not None]
        assert rounds and all(placed == allowed - {cpu} for cpu, placed in rounds)
    finally:
        release.set()
    worker_cpu, worker_cpus = job.result()
    assert worker_cpus == rounds[-1][1] and worker_cpu != rounds[-1][0]
    # the job done, the worker is no longer its to place
    for _ in range(5):
        after_done = from_a_thread()
        assert after_done is None or after_done[1] == worker_cpus
    beside.Beside(None, [1.0]).keep_apart()  # a vector known at once: nothing runs


def _one_cpu_child(out: Any) -> None:
    cpu = min(os.sched_getaffinity(0))
    os.sched_setaffinity(0, {cpu})
    out.put((cpu, beside._other_cpus(), beside.start(_where).result()[1]))


def _in_a_child(start_method: str, target: Any) -> Any:
    """What ``target(queue)`` puts, run in a child process started so."""
    context = multiprocessing.get_context(start_method)
    out = context.Queue()
    child = context.Process(target=target, args=(out,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    return out.get(timeout=5)


@pytest.mark.skipif(not LINUX_CPUS, reason="threads are placed on Linux with 2+ CPUs")
def test_a_caller_kept_to_one_cpu_leaves_the_worker_unplaced() -> None:
    cpu, others, worker_cpus = _in_a_child("spawn", _one_cpu_child)
    assert others is None
    assert worker_cpus == frozenset({cpu})  # inherited from its creator, never changed


def test_without_a_way_to_place_threads_jobs_run_where_they_run(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(beside, "_sched_getcpu", lambda: None)
    assert beside._other_cpus() is None
    assert beside.start(lambda: 7).result() == 7


def _in_child(out: Any) -> None:
    out.put((beside.start(lambda: threading.current_thread().name).result(),
             beside.start(lambda: "child").result()))


def test_a_forked_child_gets_a_worker_of_its_own() -> None:
    """Even when the fork happened while the parent's worker was busy."""
    release = threading.Event()
    busy = beside.start(release.wait)  # the parent's worker runs until released
    try:
        assert _in_a_child("fork", _in_child) == ("memori-embed-beside", "child")
    finally:
        release.set()
        busy.result()


@pytest.fixture
def store(tmp_path: Path, local: LocalEmbedder) -> Iterator[MemoryStore]:
    s = open_backend(f"sqlite:///{tmp_path / 'f.db'}", vector_dim=local.dim)
    s.setup()
    texts = ["the user runs every morning by the river", "the user plays the piano",
             "the user dislikes spicy food", "a river cruise is planned for June",
             "用户对花生过敏"]
    vectors = local.embed(texts)
    s.put_memories([Memory("u", t, created_at=1000.0 + i, embedding=tuple(v))
                    for i, (t, v) in enumerate(zip(texts, vectors, strict=True))])
    s.append_turns([Turn("u", "s1", "user", f"did you see the river {i}", created_at=2000.0 + i,
                         embedding=tuple(local.embed([f"river {i}"])[0])) for i in range(5)])
    yield s
    s.close()


def test_hits_are_those_of_embedding_first(store: MemoryStore, local: LocalEmbedder) -> None:
    retriever = HybridRetriever(embedder=local, clock=lambda: 3000.0)  # the same recency
    scope = Scope("u", None, "s1")
    for query in QUESTIONS:
        first = retriever.retrieve(store, scope, query, limit=5,
                                   vector=local.embed([query])[0])
        alongside = retriever.retrieve(store, scope, query, limit=5)
        started = retriever.retrieve(store, scope, query, limit=5,
                                     started=retriever.start_query(store, query))
        assert first and alongside == first and started == first


def test_a_long_message_is_embedded_from_its_ends_every_way(
    store: MemoryStore, local: LocalEmbedder,
) -> None:
    """Beside the caller, inline and given: one vector, that of the message's first 10
    and last 10 words (``memori.retrieval.focus``), the words its text searches read."""
    from memori.retrieval.focus import VECTOR_HEAD, VECTOR_TAIL, focus

    retriever = HybridRetriever(embedder=local, clock=lambda: 3000.0)
    long = "We walked along the river for hours and talked. " * 6 + QUESTIONS[1]
    assert (VECTOR_HEAD, VECTOR_TAIL) == (10, 10)
    words = focus(long, 10, 10).split()
    assert words[:10] == long.split()[:10] and words[10:] == long.split()[-10:]
    assert retriever.embedded(long) == focus(long, 10, 10) == retriever.focused(long)
    cut = local.embed([focus(long, 10, 10)])[0]
    assert cut != local.embed([long])[0] and cut != local.embed([focus(long, 12, 20)])[0]
    assert retriever.start_query(store, long).result() == cut  # type: ignore[union-attr]
    assert retriever.query_vector(store, long) == cut
    scope = Scope("u", None, "s1")
    first = retriever.retrieve(store, scope, long, limit=5, vector=cut, min_relevance=0.0)
    assert first and retriever.retrieve(store, scope, long, limit=5, min_relevance=0.0) == first


def slow_model(local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make the model take 0.2 s (outside the GIL, as it does); the list it returns gets
    "model done" when a run ends, for the test to note its own events beside."""
    events: list[str] = []
    runtime = local._ensure_runtime()
    real = runtime.session

    class SlowSession:
        def run(self, *args: Any) -> Any:
            time.sleep(0.2)
            events.append("model done")
            return real.run(*args)

    monkeypatch.setattr(runtime, "session", SlowSession())
    return events


def test_text_searches_run_while_the_model_runs(
    store: MemoryStore, local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch,
) -> None:
    events = slow_model(local, monkeypatch)
    original = store.search_memories

    def search(*args: Any, **kwargs: Any) -> Any:
        if kwargs.get("text") is not None:
            events.append("text search")
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "search_memories", search)
    HybridRetriever(embedder=local).retrieve(store, Scope("u"), "river walks", limit=3)
    assert events[:2] == ["text search", "model done"]


def test_context_sessions_and_overlaps_are_read_while_the_model_runs(
    store: MemoryStore, local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The best text hits' sessions (the likely context seeds) are read, and their words
    judged, before the caller waits for the query's vector; nothing is read twice."""
    events = slow_model(local, monkeypatch)
    original = store.recent_turns  # type: ignore[attr-defined]

    def recent(*args: Any, **kwargs: Any) -> Any:
        events.append("session read")
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "recent_turns", recent)
    retriever = HybridRetriever(embedder=local, clock=lambda: 3000.0)
    query = "did you see the river?"
    hits = retriever.retrieve(store, Scope("u"), query, limit=5,
                              started=retriever.start_query(store, query))
    assert events == ["session read", "model done"]  # s1 once, before the vector
    assert hits == retriever.retrieve(store, Scope("u"), query, limit=5,
                                      vector=local.embed([query])[0])
    assert all("overlap" in h.signals for h in hits)


class Recording(HybridRetriever):
    """A retriever noting when the query's embedding starts and what retrieve receives."""

    def __init__(self, log: list[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.log = log

    def start_query(self, store: MemoryStore, query: str, **kwargs: Any) -> Any:
        pending = super().start_query(store, query, **kwargs)
        self.log.append(f"start {query} on {threading.current_thread().name}: "
                        f"{'started' if pending is not None else 'not started'}")
        return pending

    def retrieve(self, *args: Any, **kwargs: Any) -> Any:
        self.log.append(f"retrieve started={kwargs.get('started') is not None}")
        return super().retrieve(*args, **kwargs)


def test_the_llm_path_starts_the_embedding_before_reading_the_session(
    tmp_path: Path, local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch,
) -> None:
    import openai

    log: list[str] = []
    server = OpenAIServer().start()
    mem = Memori(f"sqlite:///{tmp_path / 'm.db'}", embedder=local, extractor=None)
    try:
        mem.retriever = Recording(log, embedder=local)
        mem.attribution(entity_id="u")
        mem.remember("The user runs every morning by the river.")
        client = mem.llm.register(openai.OpenAI(base_url=server.base_url, api_key="test"))
        sessions = mem.llm.engine.sessions
        original_recent = sessions.recent

        def recent(scope: Scope) -> Sequence[Turn]:
            log.append("history read")
            return original_recent(scope)

        monkeypatch.setattr(sessions, "recent", recent)
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "When do I go running?"}])
        assert log[:3] == ["start When do I go running? on MainThread: started",
                           "history read", "retrieve started=True"], log
        assert "runs every morning by the river" in str(server.last_request().body)
    finally:
        mem.close()
        server.stop()


@contextlib.asynccontextmanager
async def async_llm(
    tmp_path: Path, local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[tuple[Any, OpenAIServer, list[str], list[str]]]:
    """A registered ``AsyncOpenAI`` client against the stand-in, over a store holding one
    memory: ``(client, server, log, model_threads)``; ``log`` notes each embedding start
    and retrieve (``Recording``), ``model_threads`` the threads the model ran on."""
    import openai

    log: list[str] = []
    model_threads: list[str] = []
    server = OpenAIServer().start()
    mem = Memori(f"sqlite:///{tmp_path / 'm.db'}", embedder=local, extractor=None)
    runtime = local._ensure_runtime()
    real = runtime.session

    class Session:
        def run(self, *args: Any) -> Any:
            model_threads.append(threading.current_thread().name)
            return real.run(*args)

    client = None
    try:
        mem.retriever = Recording(log, embedder=local)
        mem.attribution(entity_id="u")
        mem.remember("The user runs every morning by the river.")
        monkeypatch.setattr(runtime, "session", Session())
        client = mem.llm.register(openai.AsyncOpenAI(base_url=server.base_url, api_key="t"))
        yield client, server, log, model_threads
    finally:
        if client is not None:
            await client.close()
        mem.close()
        server.stop()


@contextlib.contextmanager
def worker_busy() -> Iterator[None]:
    """The embedding worker busy with another run until the block ends."""
    release = threading.Event()
    busy = beside.start(release.wait)
    try:
        yield
    finally:
        release.set()
        busy.result()


async def ask_with_the_worker_busy(client: Any, server: OpenAIServer, log: list[str],
                                   model_threads: list[str], content: str) -> None:
    """One call while the embedding worker is busy: the model runs on neither the worker
    nor the loop's thread (the reads' thread embeds), and the memory still reaches it."""
    loop_thread = threading.current_thread().name
    with worker_busy():
        log.clear()
        model_threads.clear()
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": content}])
    assert model_threads and loop_thread not in model_threads
    assert "memori-embed-beside" not in model_threads
    assert "runs every morning by the river" in str(server.last_request().body)


async def test_the_async_path_starts_it_off_the_loop_in_the_reads_thread(
    tmp_path: Path, local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The call's reads run in one worker thread, which starts a short question's
    embedding first (the model on the embedding worker); nothing of it runs on the loop's
    thread, not even with the embedding worker busy (the reads' thread then runs the
    model)."""
    loop_thread = threading.current_thread().name
    async with async_llm(tmp_path, local, monkeypatch) as (client, server, log, model_threads):
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "When do I go running?"}])
        assert log[0].startswith("start When do I go running? on ") and \
            log[0].endswith(": started"), log
        assert f" on {loop_thread}:" not in log[0]
        assert log[1] == "retrieve started=True", log
        assert model_threads == ["memori-embed-beside"]
        assert "runs every morning by the river" in str(server.last_request().body)
        # the embedding worker busy: the reads' thread embeds, the loop still does not
        await ask_with_the_worker_busy(client, server, log, model_threads, "Where do I run?")
        assert log[0].startswith("start Where do I run? on ") and f" on {loop_thread}:" \
            not in log[0], log


def test_the_caller_yields_the_gil_while_it_waits_for_the_worker() -> None:
    """The worker needs the GIL to take its job: the caller, awake, must let it have it
    (with a switch interval of a minute, a caller that held it would wait that long)."""
    import sys

    started = threading.Event()
    setter = threading.Thread(target=started.set)
    waiter = threading.Thread(target=beside._await, args=(started, 120.0))
    interval = sys.getswitchinterval()
    sys.setswitchinterval(60.0)
    try:
        waiter.start()
        setter.start()
        waiter.join(30)
        assert not waiter.is_alive() and started.is_set()
    finally:
        sys.setswitchinterval(interval)
        started.set()
        waiter.join()
        setter.join()


def test_a_worker_slower_than_the_yielding_is_slept_for() -> None:
    started = threading.Event()
    timer = threading.Timer(0.05, started.set)
    timer.start()
    beside._await(started, yield_for=0.001)
    assert started.is_set()
    timer.join()


@pytest.mark.parametrize("several", [True, False])
def test_the_caller_yields_only_where_the_worker_has_a_cpu_of_its_own(
    monkeypatch: pytest.MonkeyPatch, several: bool,
) -> None:
    waits: list[float] = []
    real = beside._await

    def noted(started: threading.Event, yield_for: float) -> None:
        waits.append(yield_for)
        real(started, yield_for)

    monkeypatch.setattr(beside, "_several_cpus", lambda: several)
    monkeypatch.setattr(beside, "_await", noted)
    assert beside.start(lambda: 7).result() == 7
    assert waits == [beside.YIELD_FOR if several else 0.0]


async def test_the_async_path_starts_a_long_messages_embedding_on_the_loop(
    tmp_path: Path, local: LocalEmbedder, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A message of ``LOOP_START_TOKENS`` tokens or more: the loop's thread hands its
    model run to the embedding worker before the hop to the reads' thread, which uses it;
    the model never runs on the loop, and with the worker busy the loop starts nothing
    and the reads' thread embeds, as for a short question."""
    from memori.llm.engine import LOOP_START_TOKENS
    from memori.retrieval.tokens import count_tokens

    message = ("We walked along the river for hours yesterday and talked about the trip "
               "to the mountains next month. When do I go running?")
    assert count_tokens(message) >= LOOP_START_TOKENS > count_tokens("When do I go running?")
    loop_thread = threading.current_thread().name
    kept_apart_from: list[str] = []
    keep_apart = beside.Beside.keep_apart

    def noting(self: beside.Beside) -> None:
        kept_apart_from.append(threading.current_thread().name)
        keep_apart(self)

    monkeypatch.setattr(beside.Beside, "keep_apart", noting)
    async with async_llm(tmp_path, local, monkeypatch) as (client, server, log, model_threads):
        await client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": message}])
        assert log[:2] == [f"start {message} on {loop_thread}: started",
                           "retrieve started=True"], log
        assert model_threads == ["memori-embed-beside"]
        # the reads' thread, which works beside the model, keeps the worker off its CPU
        assert len(kept_apart_from) == 1 and kept_apart_from[0] != loop_thread
        assert "runs every morning by the river" in str(server.last_request().body)
        # the embedding worker busy: the loop starts nothing, the reads' thread embeds
        await ask_with_the_worker_busy(client, server, log, model_threads, message)
        assert log[0] == f"start {message} on {loop_thread}: not started", log
        assert log[1].startswith(f"start {message} on ") and \
            f" on {loop_thread}:" not in log[1], log
