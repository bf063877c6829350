"""The Responses API through a registered real openai client against the loopback server."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import openai
import pytest
from pydantic import BaseModel

from memori import Memori
from memori.core import Scope, Turn
from memori.llm.context import CLOSE_TAG, OPEN_TAG
from memori.testing import OpenAIServer, Reply, ToolCall

MODEL = "gpt-4.1-mini"


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


def last_body(server: OpenAIServer) -> dict[str, Any]:
    return server.last_request("responses").json


def stored(mem: Memori, entity: str) -> list[Turn]:
    mem.flush()
    return mem.store.list_turns(Scope(entity))


def test_memories_go_into_instructions_and_input_is_untouched(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    mem.remember("The user runs a bakery in Bergen.")
    r = client.responses.create(model=MODEL, input="Where is my bakery?",
                                instructions="Answer in one line.")
    body = last_body(openai_server)
    assert body["input"] == "Where is my bakery?"
    caller, block = body["instructions"].split("\n\n", 1)
    assert caller == "Answer in one line."
    assert block.startswith(OPEN_TAG) and block.endswith(CLOSE_TAG) and "Bergen" in block
    assert r.output_text == "echo: Where is my bakery?"
    assert [(t.role, t.content) for t in stored(mem, "u1")] == [
        ("user", "Where is my bakery?"), ("assistant", "echo: Where is my bakery?")]


def test_without_anything_to_recall_instructions_are_left_alone(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    client.responses.create(model=MODEL, input="hello")
    assert "instructions" not in last_body(openai_server)


def test_input_list_is_not_mutated_and_session_history_is_injected(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    client.responses.create(model=MODEL, input="my name is Kari")
    items = [{"role": "user", "content": [{"type": "input_text", "text": "what is my name?"}]}]
    snapshot = [dict(items[0])]
    client.responses.create(model=MODEL, input=items)
    assert items == snapshot
    assert "user: my name is Kari" in last_body(openai_server)["instructions"]


def test_previous_response_id_gets_memories_but_not_session_history(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    mem.remember("Kari's dog is called Fenris.")
    first = client.responses.create(model=MODEL, input="hello there")
    client.responses.create(model=MODEL, input="what is my dog called?",
                            previous_response_id=first.id)
    instructions = last_body(openai_server)["instructions"]
    assert "Fenris" in instructions and "hello there" not in instructions


def test_function_calls_and_outputs_are_recorded(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply.tools(ToolCall("get_time", {"tz": "CET"}, id="call_t")))
    first = client.responses.create(model=MODEL, input="What time is it?")
    call = first.output[0]
    assert call.type == "function_call"
    openai_server.enqueue("It is noon.")
    client.responses.create(model=MODEL, previous_response_id=first.id, input=[
        {"type": "function_call_output", "call_id": call.call_id, "output": "12:00"}])
    turns = stored(mem, "u1")
    assert [t.role for t in turns] == ["user", "assistant", "tool", "assistant"]
    assert turns[1].metadata["tool_calls"] == [{
        "id": call.call_id, "type": "function",
        "function": {"name": "get_time", "arguments": '{"tz":"CET"}'}}]
    assert turns[2].content == "12:00" and turns[2].metadata["tool_call_id"] == call.call_id
    assert turns[3].content == "It is noon."


def test_stream_records_at_the_end_and_partial_on_early_close(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue("red green blue")
    events = list(client.responses.create(model=MODEL, input="colours", stream=True))
    assert events[-1].type == "response.completed"
    openai_server.enqueue(Reply(text="one two three four five six", chunk_delay=0.01))
    stream = client.responses.create(model=MODEL, input="numbers", stream=True)
    assert isinstance(stream, openai.Stream)
    seen = []
    for event in stream:
        if event.type == "response.output_text.delta":
            seen.append(event.delta)
            if len(seen) == 2:
                break
    stream.close()
    turns = stored(mem, "u1")
    assert [(t.content, t.metadata.get("partial", False)) for t in turns] == [
        ("colours", False), ("red green blue", False),
        ("numbers", False), ("".join(seen), True)]


def test_failed_stream_is_partial(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply(text="half an answer", stream_error="boom"))
    try:
        for _ in client.responses.create(model=MODEL, input="fail please", stream=True):
            pass
    except openai.APIError:
        pass
    reply = stored(mem, "u1")[1]
    assert reply.content == "half an answer" and reply.metadata["partial"] is True


def test_stream_helper_and_parse(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    mem.remember("Prefers metric units.")
    with client.responses.stream(model=MODEL, input="units?") as stream:
        final = stream.get_final_response()
    assert final.output_text == "echo: units?"
    assert "metric" in last_body(openai_server)["instructions"]

    class Units(BaseModel):
        system: str

    parsed = client.responses.parse(model=MODEL, input="which units", text_format=Units)
    assert parsed.output_parsed == Units(system="which units")
    assert "metric" in last_body(openai_server)["instructions"]
    assert [t.content for t in stored(mem, "u1")] == [
        "units?", "echo: units?", "which units", '{"system":"which units"}']


async def test_async_create_and_stream(
    mem: Memori, aclient: openai.AsyncOpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    await mem.aremember("Lives near the fjord.")
    r = await aclient.responses.create(model=MODEL, input="where do I live?")
    assert r.output_text == "echo: where do I live?"
    assert "fjord" in last_body(openai_server)["instructions"]
    stream = await aclient.responses.create(model=MODEL, input="stream it", stream=True)
    assert isinstance(stream, openai.AsyncStream)
    kinds = [event.type async for event in stream]
    assert kinds[-1] == "response.completed"
    await mem.aflush()
    assert [t.content for t in stored(mem, "u1")] == [
        "where do I live?", "echo: where do I live?", "stream it", "echo: stream it"]
