"""``with_streaming_response`` through a registered client: injected, recorded as read."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest

from memori import Memori
from memori.core import Scope, Turn
from memori.llm.context import OPEN_TAG
from memori.testing import OpenAIServer, Reply

MODEL = "gpt-4.1-mini"
USER = [{"role": "user", "content": "my goal is a sub-25 5K"}]


@pytest.fixture
def client(mem: Memori, openai_server: OpenAIServer) -> Iterator[openai.OpenAI]:
    c = mem.llm.register(openai_server.client())
    yield c
    c.close()


@pytest.fixture
async def aclient(mem: Memori, openai_server: OpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    c = mem.llm.register(openai_server.async_client())
    yield c
    await c.close()


def stored(mem: Memori, entity: str = "u1") -> list[tuple[str, str, bool]]:
    mem.flush()
    turns: list[Turn] = mem.store.list_turns(Scope(entity))
    return [(t.role, t.content, bool(t.metadata.get("partial"))) for t in turns]


def injected(server: OpenAIServer) -> str:
    body = server.last_request().json
    if "instructions" in body:
        return str(body["instructions"] or "")
    return "\n".join(str(m.get("content")) for m in body.get("messages", ())
                     if m.get("role") == "system")


def test_chat_parse_is_injected_and_recorded(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    mem.remember("Trains on Tuesdays.")
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=[{"role": "user", "content": "when do I train?"}]
    ) as response:
        assert response.request_id is not None
        assert response.parse().choices[0].message.content == "echo: when do I train?"
    assert OPEN_TAG in injected(openai_server) and "Tuesdays" in injected(openai_server)
    assert stored(mem) == [("user", "when do I train?", False),
                           ("assistant", "echo: when do I train?", False)]
    assert mem.llm.stats.passthrough == 0


def test_responses_stream_parse_records_at_the_end(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue("keep a steady pace")
    with client.responses.with_streaming_response.create(
        model=MODEL, input="how do I pace?", stream=True
    ) as response:
        stream = response.parse()
        assert isinstance(stream, openai.Stream)
        kinds = [event.type for event in stream]
    assert kinds[-1] == "response.completed"
    assert stored(mem) == [("user", "how do I pace?", False),
                           ("assistant", "keep a steady pace", False)]


def test_stream_abandoned_inside_the_block_is_partial(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply(text="one two three four five six", chunk_delay=0.01))
    seen = []
    with client.responses.with_streaming_response.create(
        model=MODEL, input="count", stream=True
    ) as response:
        for event in response.parse():
            if event.type == "response.output_text.delta":
                seen.append(event.delta)
                if len(seen) == 2:
                    break
    assert stored(mem) == [("user", "count", False), ("assistant", "".join(seen), True)]


def test_raw_lines_of_a_stream_are_recorded(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue("fast and slow")
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=USER, stream=True
    ) as response:
        lines = list(response.iter_lines())
    assert any(line.startswith("data:") for line in lines)
    openai_server.enqueue("tempo runs")
    with client.responses.with_streaming_response.create(
        model=MODEL, input="and then?", stream=True
    ) as response:
        data = b"".join(response.iter_bytes(7))
    assert b"response.completed" in data
    assert stored(mem) == [
        ("user", USER[0]["content"], False), ("assistant", "fast and slow", False),
        ("user", "and then?", False), ("assistant", "tempo runs", False)]


def test_read_json_and_text_record_a_whole_reply(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    with client.responses.with_streaming_response.create(model=MODEL, input="a") as response:
        assert response.json()["output"][0]["type"] == "message"  # type: ignore[index]
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=[{"role": "user", "content": "b"}]
    ) as response:
        assert "echo: b" in response.text()
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=[{"role": "user", "content": "c"}]
    ) as response:
        assert b"echo: c" in b"".join(response.iter_bytes())
    assert [c for _, c, _ in stored(mem)] == ["a", "echo: a", "b", "echo: b", "c", "echo: c"]


def test_unread_body_records_the_user_turn_only(
    mem: Memori, client: openai.OpenAI
) -> None:
    mem.attribution(entity_id="u1")
    with client.responses.with_streaming_response.create(model=MODEL, input="never read"):
        pass
    assert stored(mem) == [("user", "never read", False)]


def test_store_down_the_call_still_answers(
    mem: Memori, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    mem.attribution(entity_id="u1")

    def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("store down")

    monkeypatch.setattr(mem.pipeline, "record", broken)
    with client.responses.with_streaming_response.create(
        model=MODEL, input="still there?", stream=True
    ) as response:
        kinds = [event.type for event in response.parse()]
    assert kinds[-1] == "response.completed"
    assert mem.llm.stats.record_failures >= 1


def test_caller_input_is_not_mutated(mem: Memori, client: openai.OpenAI) -> None:
    mem.attribution(entity_id="u1")
    mem.remember("Runs in the morning.")
    messages = [{"role": "user", "content": "when do I run?"}]
    snapshot = [dict(m) for m in messages]
    with client.chat.completions.with_streaming_response.create(
        model=MODEL, messages=messages, stream=True
    ) as response:
        list(response.parse())
    assert messages == snapshot


async def test_async_stream_parse_and_partial(
    mem: Memori, aclient: openai.AsyncOpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    await mem.aremember("Races in June.")
    async with aclient.responses.with_streaming_response.create(
        model=MODEL, input="when is my race?", stream=True
    ) as response:
        stream = await response.parse()
        assert isinstance(stream, openai.AsyncStream)
        kinds = [event.type async for event in stream]
    assert kinds[-1] == "response.completed"
    assert "June" in injected(openai_server)
    openai_server.enqueue(Reply(text="a b c d e f g", chunk_delay=0.01))
    async with aclient.chat.completions.with_streaming_response.create(
        model=MODEL, messages=USER, stream=True
    ) as response:
        async for chunk in await response.parse():
            if chunk.choices and chunk.choices[0].delta.content:
                break
    async with aclient.chat.completions.with_streaming_response.create(
        model=MODEL, messages=[{"role": "user", "content": "raw"}], stream=True
    ) as response:
        lines = [line async for line in response.iter_lines()]
    assert lines
    async with aclient.responses.with_streaming_response.create(
        model=MODEL, input="whole"
    ) as response:
        assert (await response.parse()).output_text == "echo: whole"
    await mem.aflush()
    await asyncio.sleep(0)
    assert stored(mem) == [
        ("user", "when is my race?", False), ("assistant", "echo: when is my race?", False),
        ("user", USER[0]["content"], False), ("assistant", "a ", True),
        ("user", "raw", False), ("assistant", "echo: raw", False),
        ("user", "whole", False), ("assistant", "echo: whole", False)]


async def test_new_async_paths_never_read_the_store_on_the_event_loop(
    mem: Memori, aclient: openai.AsyncOpenAI, openai_server: OpenAIServer
) -> None:
    """with_streaming_response, a previous_response_id found in the store and a resumed
    stream: every store read runs off the loop's thread."""
    loop_thread = threading.get_ident()
    readers: list[int] = []

    def watched(read: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            readers.append(threading.get_ident())
            return read(*args, **kwargs)
        return call

    for name in ("search_memories", "search_turns", "list_turns", "recent_turns"):
        setattr(mem.store, name, watched(getattr(mem.store, name)))
    mem.attribution(entity_id="u1", session_id="first")
    openai_server.enqueue(Reply(text="one two three", chunk_delay=0.005))
    async with aclient.responses.with_streaming_response.create(
        model=MODEL, input="count", stream=True
    ) as response:
        async for event in await response.parse():
            if event.type == "response.created":
                response_id = event.response.id
            if event.type == "response.output_text.delta":
                break
    await mem.aflush()
    mem.llm.engine.continuations.drop_entity("u1")  # found through the store from here
    mem.attribution(entity_id="u1", session_id="second")
    await aclient.responses.create(model=MODEL, input="go on", previous_response_id=response_id)
    mem.llm.engine.continuations.drop_entity("u1")
    async with aclient.responses.stream(response_id=response_id) as resumed:
        await resumed.until_done()
    await mem.aflush()
    assert readers and loop_thread not in readers
    assert {t.session_id for t in mem.store.list_turns(Scope("u1"))} == {"first"}


def test_a_broken_reply_reader_never_breaks_the_body(
    mem: Memori, client: openai.OpenAI, monkeypatch: pytest.MonkeyPatch
) -> None:
    from memori.llm.responses import RESPONSES

    def broken() -> None:
        raise RuntimeError("accumulator bug")

    monkeypatch.setattr(RESPONSES, "stream_reply", broken)
    mem.attribution(entity_id="u1")
    with client.responses.with_streaming_response.create(
        model=MODEL, input="lines", stream=True
    ) as response:
        lines = list(response.iter_lines())
    with client.responses.with_streaming_response.create(
        model=MODEL, input="events", stream=True
    ) as response:
        kinds = [event.type for event in response.parse()]
    assert any("response.completed" in line for line in lines)
    assert kinds[-1] == "response.completed"
    assert mem.llm.stats.record_failures >= 2
    assert [(r, c) for r, c, _ in stored(mem)] == [("user", "lines"), ("user", "events")]
