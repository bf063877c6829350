"""Responses calls that continue an earlier response (or conversation) stay in its session."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import openai
import pytest

from memori import Memori
from memori.core import Scope, Turn
from memori.testing import OpenAIServer

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


def turns(mem: Memori, entity: str, process: str | None = None) -> list[Turn]:
    mem.flush()
    return mem.store.list_turns(Scope(entity, process))


def sessions(mem: Memori, entity: str, process: str | None = None) -> dict[str, str]:
    return {t.content: t.session_id for t in turns(mem, entity, process)}


def test_previous_response_id_stays_in_the_earlier_calls_session(
    mem: Memori, client: openai.OpenAI
) -> None:
    mem.attribution(entity_id="ana", session_id="monday")
    first = client.responses.create(model=MODEL, input="my goal is a sub-25 5K")
    mem.attribution(entity_id="ana", session_id="tuesday")
    client.responses.create(model=MODEL, input="how far today?", previous_response_id=first.id)
    client.responses.create(model=MODEL, input="unrelated question")
    where = sessions(mem, "ana")
    assert where["how far today?"] == where["echo: how far today?"] == "monday"
    assert where["unrelated question"] == "tuesday"


def test_a_chain_of_responses_keeps_one_session(mem: Memori, client: openai.OpenAI) -> None:
    mem.attribution(entity_id="ana", session_id="s1")
    previous = client.responses.create(model=MODEL, input="one")
    for text in ("two", "three"):
        mem.new_session()
        previous = client.responses.create(model=MODEL, input=text,
                                           previous_response_id=previous.id)
    assert set(sessions(mem, "ana").values()) == {"s1"}


def test_found_through_the_store_by_a_new_process(
    mem: Memori, sqlite_url: str, openai_server: OpenAIServer, client: openai.OpenAI
) -> None:
    mem.attribution(entity_id="ana", process_id="coach", session_id="first")
    first = client.responses.create(model=MODEL, input="remember my race")
    mem.flush()
    with Memori(sqlite_url, embedder="hash") as other:
        other_client = other.llm.register(openai_server.client())
        other.attribution(entity_id="ana", process_id="coach", session_id="second")
        other_client.responses.create(model=MODEL, input="and after it?",
                                      previous_response_id=first.id)
        other_client.close()
    assert sessions(mem, "ana", "coach")["and after it?"] == "first"


def test_never_across_entities_or_personas(mem: Memori, client: openai.OpenAI) -> None:
    mem.attribution(entity_id="ana", process_id="coach", session_id="ana-s")
    first = client.responses.create(model=MODEL, input="ana's secret plan")
    mem.attribution(entity_id="bob", process_id="coach", session_id="bob-s")
    client.responses.create(model=MODEL, input="bob continues", previous_response_id=first.id)
    mem.attribution(entity_id="ana", process_id="planner", session_id="plan-s")
    client.responses.create(model=MODEL, input="planner continues",
                            previous_response_id=first.id)
    assert sessions(mem, "bob", "coach")["bob continues"] == "bob-s"
    assert sessions(mem, "ana", "planner")["planner continues"] == "plan-s"
    assert set(sessions(mem, "ana", "coach")) == {"ana's secret plan", "echo: ana's secret plan"}


def test_conversation_keeps_its_session(mem: Memori, client: openai.OpenAI) -> None:
    mem.attribution(entity_id="ana", session_id="c1")
    client.responses.create(model=MODEL, input="first in conv", conversation="conv_memori1")
    mem.attribution(entity_id="ana", session_id="c2")
    client.responses.create(model=MODEL, input="second in conv",
                            conversation={"id": "conv_memori1"})
    recorded = turns(mem, "ana")
    assert {t.session_id for t in recorded} == {"c1"}
    assert all(t.metadata["conversation_id"] == "conv_memori1" for t in recorded)


async def test_async_previous_response_id(mem: Memori, aclient: openai.AsyncOpenAI) -> None:
    mem.attribution(entity_id="ana", session_id="a1")
    first = await aclient.responses.create(model=MODEL, input="async one")
    mem.attribution(entity_id="ana", session_id="a2")
    stream = await aclient.responses.create(model=MODEL, input="async two", stream=True,
                                            previous_response_id=first.id)
    async for _ in stream:
        pass
    await mem.aflush()
    assert sessions(mem, "ana")["echo: async two"] == "a1"


def test_forget_drops_what_the_index_knew(mem: Memori, client: openai.OpenAI) -> None:
    mem.attribution(entity_id="ana", session_id="old")
    first = client.responses.create(model=MODEL, input="to be forgotten")
    mem.flush()
    mem.forget(entity_id="ana")
    mem.attribution(entity_id="ana", session_id="new")
    client.responses.create(model=MODEL, input="after forget", previous_response_id=first.id)
    assert set(sessions(mem, "ana").values()) == {"new"}
