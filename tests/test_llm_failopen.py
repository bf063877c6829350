"""Fail-open: a broken memory store costs a call its memory, never the model's answer."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import openai
import pytest

from memori import Memori
from memori.core import Hit, MemoryStore, Scope, StoreUnavailableError
from memori.testing import OpenAIServer

MODEL = "gpt-4o-mini"
SECRET = "my-passport-number-is-X9911"
STORE_CALLS = (
    "append_turns", "list_turns", "count_turns", "search_turns", "put_memories",
    "get_memory", "list_memories", "count_memories", "update_memory", "search_memories",
    "outbox_pending", "outbox_mark", "recent_turns",
)


@contextmanager
def outage(store: MemoryStore) -> Iterator[dict[str, int]]:
    """The real store refuses every call (as a database that went away) until the block ends."""
    attempts = {"count": 0}
    lock = threading.Lock()

    def down(*_args: Any, **_kwargs: Any) -> Any:
        with lock:
            attempts["count"] += 1
        raise StoreUnavailableError("connection refused")

    for name in STORE_CALLS:
        setattr(store, name, down)
    try:
        yield attempts
    finally:
        for name in STORE_CALLS:
            delattr(store, name)


@pytest.fixture
def client(mem: Memori, openai_server: OpenAIServer) -> Iterator[openai.OpenAI]:
    c = mem.llm.register(openai_server.client())
    yield c
    c.close()


def ask(client: openai.OpenAI, text: str, **kwargs: Any) -> Any:
    return client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": text}], **kwargs)


def wait_until(condition: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.01)


def test_store_down_the_call_still_answers_and_writes_land_later(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    mem.attribution(entity_id="u1")
    with outage(mem.store):
        r = ask(client, f"remember {SECRET}")
        assert r.choices[0].message.content == f"echo: remember {SECRET}"
        stream = ask(client, "and stream this", stream=True)
        assert "".join(c.choices[0].delta.content or "" for c in stream) == "echo: and stream this"
        wait_until(lambda: mem.llm.stats.write_failures >= 2)
        stats = mem.llm.stats
        assert stats.read_failures >= 2 and stats.write_pending == 4
        assert openai_server.last_request("chat").messages == [
            {"role": "user", "content": "and stream this"}]
    assert mem.flush(timeout=20)
    turns = mem.store.list_turns(Scope("u1"))
    assert [t.content for t in turns] == [
        f"remember {SECRET}", f"echo: remember {SECRET}", "and stream this",
        "echo: and stream this"]
    assert mem.llm.stats.write_pending == 0
    assert SECRET not in caplog.text and "stream this" not in caplog.text
    assert "StoreUnavailableError" in caplog.text


async def test_async_call_answers_with_the_store_down(
    mem: Memori, openai_server: OpenAIServer
) -> None:
    aclient = mem.llm.register(openai_server.async_client())
    mem.attribution(entity_id="u1")
    with outage(mem.store):
        r = await aclient.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "still there?"}])
        assert r.choices[0].message.content == "echo: still there?"
        r2 = await aclient.responses.create(model="gpt-4.1-mini", input="and here?")
        assert r2.output_text == "echo: and here?"
    assert await mem.aflush(timeout=20)
    assert len(mem.store.list_turns(Scope("u1"))) == 4
    await aclient.close()


def test_an_outage_does_not_hold_calls_for_turns_that_cannot_land(
    sqlite_url: str, openai_server: OpenAIServer
) -> None:
    # read-your-writes waits for the entity's turns of other conversations; while the
    # store refuses the writes those turns cannot land, so no call waits for them
    mem = Memori(sqlite_url, embedder="hash", read_your_writes=30)
    client = mem.llm.register(openai_server.client())
    try:
        with outage(mem.store):
            mem.attribution(entity_id="u1", session_id="s1")
            ask(client, "my locker code is 4711")
            wait_until(lambda: mem.llm.stats.write_failures >= 1)
            began = time.monotonic()
            for session in ("s2", "s3", "s4"):
                mem.attribution(entity_id="u1", session_id=session)
                assert ask(client, "what is my locker code?").choices[0].message.content
            assert time.monotonic() - began < 15, "a call waited the read-your-writes bound"
        assert mem.flush(timeout=30)
        # the store is back: a call of another conversation waits for the turn again
        mem.attribution(entity_id="u1", session_id="s5")
        ask(client, "my bike is green")
        mem.attribution(entity_id="u1", session_id="s6")
        ask(client, "what colour is my bike?")
        sent = openai_server.last_request("chat").messages
        assert "my bike is green" in sent[0]["content"]
    finally:
        client.close()
        mem.close()


class ExplodingRetriever:
    """A retriever that fails (a bug or a missing index), to check recall fails open."""

    def retrieve(self, store: MemoryStore, scope: Scope, query: str, *, limit: int = 10,
                 token_budget: int | None = None, include_history: bool = False) -> list[Hit]:
        raise RuntimeError("index missing")


def test_failing_retriever_is_counted_and_history_still_flows(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.retriever = ExplodingRetriever()
    mem.attribution(entity_id="u1")
    ask(client, "first")
    ask(client, "second")
    assert mem.llm.stats.read_failures == 2
    block = openai_server.last_request("chat").messages[0]["content"]
    assert "user: first" in block


def test_strict_mode_raises_instead(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.strict = True
    mem.attribution(entity_id="u1")
    with outage(mem.store), pytest.raises(StoreUnavailableError):
        ask(client, "strict call")
    assert openai_server.chat_requests() == []  # the model was never called


def test_recording_failure_does_not_fail_the_call(
    mem: Memori, client: openai.OpenAI, tmp_path: Any
) -> None:
    other = Memori(f"sqlite:///{tmp_path / 'x.db'}", embedder="hash")
    other.close()  # recording into a closed Memori raises inside the recorder
    mem.pipeline.record = other.pipeline.record  # type: ignore[method-assign]
    mem.attribution(entity_id="u1")
    assert ask(client, "hello").choices[0].message.content == "echo: hello"
    assert mem.llm.stats.record_failures == 1


