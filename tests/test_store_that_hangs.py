"""A store server that stops answering without refusing anything (its processes stopped
by SIGSTOP, as a hung or partitioned server is): a registered call waits for memory at
most ``read_timeout`` seconds, then answers without it; while the server stays silent,
calls do not wait at all but for one that tries again every ``read_timeout``; once it
answers, memory is back and every turn lands (``memori.llm.deadline``).

Before the bound, on the same servers: a call on PostgreSQL waited until the server
came back (90 s and more), on MongoDB 44 s."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from context_blocks import last_blocks, say
from memori import Memori
from memori.core import Scope
from memori.testing import OpenAIServer

BOUND = 1.0
FACT = "I am allergic to peanuts."


def _processes(pid: int) -> list[int]:
    """The server's process and its children (PostgreSQL's backends)."""
    found = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [pid, *(int(p) for p in found.stdout.split())]


@contextmanager
def hung(pid: int) -> Iterator[None]:
    """The server's processes stopped (the kernel still holds their sockets open)."""
    pids = _processes(pid)
    for p in pids:
        os.kill(p, signal.SIGSTOP)
    try:
        yield
    finally:
        for p in pids:
            os.kill(p, signal.SIGCONT)


def _timed(ask: Callable[[], str], limit: float = 60.0) -> tuple[str, float]:
    """``ask()`` in a thread (so a hang fails the test instead of hanging it)."""
    out: list[Any] = []
    began = time.monotonic()
    thread = threading.Thread(target=lambda: out.append(ask()), daemon=True)
    thread.start()
    thread.join(limit)
    assert out, f"the call did not return within {limit:.0f} s"
    return out[0], time.monotonic() - began


def _injected(server: OpenAIServer) -> str:
    found = last_blocks(server)
    return found[0] if found else ""


def _journey(url: str, pid: int, openai_server: OpenAIServer) -> None:
    with Memori(url, embedder="hash", read_timeout=BOUND) as mem:
        client = openai_server.client()
        mem.llm.register(client)

        def ask(text: str, session: str) -> Callable[[], str]:
            def call() -> str:
                mem.attribution(entity_id="hung-user", process_id="coach", session_id=session)
                return say(client, text).choices[0].message.content or ""
            return call

        mem.attribution(entity_id="hung-user", process_id="coach")
        mem.remember(FACT)
        for _ in range(3):  # on a loaded machine a fresh server's first reads can outlast
            answer, _ = _timed(ask("What am I allergic to?", "before"))  # the 1 s bound
            if FACT in _injected(openai_server):
                break
        assert answer == "echo: What am I allergic to?" and FACT in _injected(openai_server)
        assert mem.flush(timeout=30)
        failures = mem.llm.stats.read_failures
        with hung(pid):
            answer, took = _timed(ask("What am I allergic to, again?", "during"))
            assert answer == "echo: What am I allergic to, again?"
            assert BOUND * 0.9 <= took < BOUND + 3.0, took  # the bound, not the outage
            assert FACT not in _injected(openai_server)
            assert mem.llm.stats.read_failures == failures + 1
            _, quick = _timed(ask("And now?", "during"))  # the store is known silent
            assert quick < BOUND, quick
            # nor does a call wait for the turns of another conversation the store has not
            # taken (read your writes): it will not read the store either
            _, other = _timed(ask("Anything in another chat?", "elsewhere"))
            assert other < BOUND, other
        time.sleep(BOUND)  # past the bound, the next call tries again, and finds it back
        answer, _ = _timed(ask("What am I allergic to, after all?", "after"))
        assert FACT in _injected(openai_server)
        assert mem.flush(timeout=60)
        said = {t.content for t in mem.store.list_turns(Scope("hung-user", "coach"))}
        assert {"What am I allergic to, again?", "And now?", "Anything in another chat?",
                "echo: What am I allergic to, again?"} <= said


def _start(kind: str) -> Any:
    """A server of ``kind`` that this test started (and so may stop), or a skip."""
    if kind == "postgresql":
        if os.environ.get("MEMORI_TEST_POSTGRES_URL"):
            pytest.skip("needs a server this test can stop (a bundled one)")
        pytest.importorskip("pgserver")
        from memori.testing.postgres_server import start_bundled

        return start_bundled()
    if os.environ.get("MEMORI_TEST_MONGO_URL"):
        pytest.skip("needs a server this test can stop (one it starts)")
    from memori.testing.mongo_server import start_mongo_server

    return start_mongo_server()


@pytest.mark.parametrize("kind", ["postgresql", "mongodb"])
def test_a_hung_server_costs_a_call_the_bound_and_no_turn(
    kind: str, openai_server: OpenAIServer,
) -> None:
    server = _start(kind)
    try:
        assert server.process is not None
        _journey(server.url, server.process.pid, openai_server)
    finally:
        server.stop()


def test_the_async_path_on_a_hung_postgres_is_bounded_too(
    openai_server: OpenAIServer,
) -> None:
    """An ``AsyncOpenAI`` client on PostgreSQL's native async driver: the call's reads
    are awaited at most the bound and then cancelled; the event loop never stalls."""
    from openai import AsyncOpenAI

    server = _start("postgresql")
    assert server.process is not None
    try:
        with Memori(server.url, embedder="hash", read_timeout=BOUND) as mem:
            client = AsyncOpenAI(base_url=openai_server.base_url, api_key="test",
                                 max_retries=0)
            mem.llm.register(client)

            async def ask(text: str, session: str) -> tuple[str, float, float]:
                mem.attribution(entity_id="hung-user", process_id="coach", session_id=session)
                late: list[float] = []

                async def beat() -> None:  # how late the loop wakes a 10 ms sleeper
                    while True:
                        began = time.monotonic()
                        await asyncio.sleep(0.01)
                        late.append(time.monotonic() - began - 0.01)

                beating = asyncio.create_task(beat())
                began = time.monotonic()
                reply = await client.chat.completions.create(
                    model="m", messages=[{"role": "user", "content": text}])
                took = time.monotonic() - began
                beating.cancel()
                return reply.choices[0].message.content or "", took, max(late, default=0.0)

            async def journey() -> None:
                mem.attribution(entity_id="hung-user", process_id="coach")
                mem.remember(FACT)
                for _ in range(3):  # on a loaded machine the async driver's first
                    await ask("What am I allergic to?", "before")  # connection can
                    if FACT in _injected(openai_server):  # outlast the 1 s bound
                        break
                assert FACT in _injected(openai_server)
                assert await mem.aflush(timeout=30)
                with hung(server.process.pid):  # type: ignore[union-attr]
                    answer, took, stall = await ask("What am I allergic to, again?", "during")
                    assert answer == "echo: What am I allergic to, again?"
                    assert took < BOUND + 3.0 and stall < 0.5, (took, stall)
                    assert FACT not in _injected(openai_server)
                await asyncio.sleep(BOUND)
                await ask("What am I allergic to, after all?", "after")
                assert FACT in _injected(openai_server)
                assert await mem.aflush(timeout=60)

            asyncio.run(asyncio.wait_for(journey(), 120))
    finally:
        server.stop()


def test_readers_are_daemon_threads_that_end_with_the_memori() -> None:
    """The reader threads never keep an application from exiting (a reader may wait on
    a hung server), and closing the ``Memori`` ends them."""
    from memori.llm.deadline import BoundedReads, ReadTimeout

    reads = BoundedReads(0.2, readers=2)
    release = threading.Event()
    assert reads.run(lambda: 7) == 7
    with pytest.raises(ReadTimeout, match=r"did not answer within 0\.2 s"):
        reads.run(release.wait)
    assert reads.failing
    with pytest.raises(ReadTimeout, match="has not answered"):  # known silent: no wait
        reads.run(lambda: 8)
    assert reads._pool is not None
    readers = list(reads._pool._threads)  # this test's own (others may run beside)
    assert readers and all(t.daemon and t.name == "memori-read" for t in readers)
    release.set()  # the overrun read ends: the store answers again
    deadline = time.monotonic() + 5
    while reads.failing and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not reads.failing and reads.run(lambda: 9) == 9
    reads.close()
    for t in readers:
        t.join(5)
    assert not any(t.is_alive() for t in readers)


def test_readers_all_busy_is_no_outage() -> None:
    """A read that waited for a free reader past the bound (a burst of calls, each read
    within the bound) fails that call only: the store is not taken as silent."""
    from memori.llm.deadline import BoundedReads, ReadTimeout

    reads = BoundedReads(0.3, readers=1)
    outcomes: list[str] = []

    def read_ahead() -> None:
        try:
            reads.run(lambda: time.sleep(0.2))
            outcomes.append("read")
        except ReadTimeout as e:
            outcomes.append(str(e))

    ahead = [threading.Thread(target=read_ahead, daemon=True) for _ in range(2)]
    for t in ahead:
        t.start()
        time.sleep(0.02)
    with pytest.raises(ReadTimeout, match="no reader was free"):
        reads.run(lambda: 1)  # behind 0.4 s of reads on the one reader
    for t in ahead:
        t.join(5)
    assert outcomes[0] == "read" and "no reader was free" in outcomes[1]  # queued 0.2 s
    assert not reads.failing and reads.run(lambda: 2) == 2
    reads.close()


def test_a_read_that_raises_is_the_callers_error_not_a_timeout() -> None:
    from memori.llm.deadline import BoundedReads

    reads = BoundedReads(1.0)
    with pytest.raises(ZeroDivisionError):
        reads.run(lambda: 1 / 0)
    assert not reads.failing
    assert asyncio.run(reads.arun(lambda: "async")) == "async"
    reads.close()


SCRIPT = r"""
import sys, time
from openai import OpenAI
from memori import Memori

mem = Memori(sys.argv[1], embedder="hash", read_timeout=1)
client = OpenAI(base_url=sys.argv[2], api_key="k", max_retries=0)
mem.llm.register(client)

def ask(text, session):
    mem.attribution(entity_id="script-user", process_id="coach", session_id=session)
    reply = client.chat.completions.create(model="m", messages=[{"role": "user", "content": text}])
    return reply.choices[0].message.content

print(ask("Before the outage.", "one"), flush=True)
sys.stdin.readline()  # the test has stopped the server
began = time.monotonic()
print(ask("During the outage.", "two"), round(time.monotonic() - began, 1), flush=True)
# the script ends: no flush, no close
"""


def test_a_script_whose_server_hangs_answers_exits_and_loses_nothing(
    openai_server: OpenAIServer, tmp_path: Path,
) -> None:
    """The user's journey in a real process: the server hangs mid-run; the call answers
    within the bounds (the wait for the earlier conversation's turns, then the read),
    the script exits on its own (no reader left waiting keeps it alive), and once the
    server is back the next process stores the turn the hung one could not."""
    server = _start("mongodb")
    try:
        assert server.process is not None
        script = tmp_path / "user.py"
        script.write_text(SCRIPT)
        proc = subprocess.Popen(
            [sys.executable, str(script), server.url, openai_server.base_url],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert proc.stdin is not None and proc.stdout is not None
        assert proc.stdout.readline().strip() == "echo: Before the outage."
        with hung(server.process.pid):
            proc.stdin.write("go\n")
            proc.stdin.flush()
            answer, took = proc.stdout.readline().rsplit(" ", 1)
            assert answer == "echo: During the outage."
            assert float(took) < 2.0 + BOUND + 2.0  # read_your_writes, then the read
            try:
                proc.wait(timeout=60)  # the exit's flush is bounded too
            except subprocess.TimeoutExpired:
                proc.kill()
                pytest.fail("the script did not exit while the server hung")
        assert proc.returncode == 0, proc.stderr.read() if proc.stderr else ""
        with Memori(server.url, embedder="hash") as mem:  # the next process
            assert mem.flush(timeout=60)
            said = {t.content for t in mem.store.list_turns(Scope("script-user", "coach"))}
        assert {"Before the outage.", "During the outage.",
                "echo: During the outage."} <= said
    finally:
        server.stop()
