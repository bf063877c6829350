"""``responses.stream(response_id=...)``: a resumed stream completes a reply recorded partial."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import openai
import pytest

from memori import Memori
from memori.core import Scope, Turn
from memori.testing import OpenAIServer, Reply

MODEL = "gpt-4.1-mini"
TEXT = "one two three four five six"


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


def turns(mem: Memori, entity: str = "ana") -> list[Turn]:
    mem.flush()
    return mem.store.list_turns(Scope(entity))


def cut_stream(client: openai.OpenAI, server: OpenAIServer) -> tuple[str, int]:
    """Start a stream and drop it after two text deltas: (response id, last sequence)."""
    server.enqueue(Reply(text=TEXT, chunk_delay=0.005))
    stream = client.responses.create(model=MODEL, input="count to six", stream=True)
    response_id, deltas, last = "", 0, 0
    for event in stream:
        last = event.sequence_number
        if event.type == "response.created":
            response_id = event.response.id
        if event.type == "response.output_text.delta":
            deltas += 1
            if deltas == 2:
                break
    stream.close()
    return response_id, last


def test_resumed_stream_records_the_whole_reply_in_the_original_session(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="ana", session_id="first")
    response_id, last = cut_stream(client, openai_server)
    mem.attribution(entity_id="ana", session_id="later")
    before = len(openai_server.responses_requests())
    with client.responses.stream(response_id=response_id, starting_after=last) as stream:
        final = stream.get_final_response()
    assert final.output_text == TEXT
    assert len(openai_server.responses_requests()) == before  # a GET: nothing injected
    recorded = turns(mem)
    assert [(t.content, t.session_id, t.metadata.get("partial", False),
             t.metadata.get("resumed", False)) for t in recorded] == [
        ("count to six", "first", False, False), ("one two ", "first", True, False),
        (TEXT, "first", False, True)]
    with client.responses.stream(response_id=response_id) as stream:
        stream.until_done()
    assert len(turns(mem)) == 3  # recorded whole now: a second resume adds nothing


def test_a_response_recorded_whole_or_unknown_is_passed_through(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="ana", session_id="s")
    whole = client.responses.create(model=MODEL, input="hi")
    cut_id, _ = cut_stream(client, openai_server)
    with client.responses.stream(response_id=whole.id) as stream:
        stream.until_done()
    assert client.responses.retrieve(cut_id).output_text == TEXT  # not streamed: untouched
    mem.attribution(entity_id="bob", session_id="b")
    with client.responses.stream(response_id=cut_id) as stream:
        stream.until_done()
    assert turns(mem, "bob") == []
    assert [t.content for t in turns(mem)] == ["hi", "echo: hi", "count to six", "one two "]


async def test_async_resume(
    mem: Memori, aclient: openai.AsyncOpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="ana", session_id="first")
    openai_server.enqueue(Reply(text=TEXT, chunk_delay=0.005))
    stream = await aclient.responses.create(model=MODEL, input="count to six", stream=True)
    response_id = ""
    async for event in stream:
        if event.type == "response.created":
            response_id = event.response.id
        if event.type == "response.output_text.delta":
            break
    await stream.close()
    mem.attribution(entity_id="ana", session_id="later")
    async with aclient.responses.stream(response_id=response_id) as resumed:
        final = await resumed.get_final_response()
    assert final.output_text == TEXT
    await mem.aflush()
    assert [(t.content, t.session_id) for t in turns(mem)] == [
        ("count to six", "first"), ("one ", "first"), (TEXT, "first")]
