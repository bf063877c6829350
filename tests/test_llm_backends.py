"""The LLM path on a store with a native async driver (PostgreSQL): recall is awaited on
the driver itself, and the seed scenario holds there as on SQLite."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import openai
import pytest

from memori import Memori
from memori.core import Capability, Scope
from memori.testing import OpenAIServer

MODEL = "gpt-4o-mini"


@pytest.fixture
def pg_mem(pg_url: str) -> Iterator[Memori]:
    from sqlalchemy import create_engine, text

    schema = f"memori_llm_{uuid.uuid4().hex[:10]}"
    mem = Memori(pg_url, embedder="hash", store_options={"schema": schema})
    yield mem
    mem.close()
    engine = create_engine(pg_url)
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def _sent(server: OpenAIServer) -> str:
    return "\n".join(str(m.get("content")) for m in server.last_request("chat").messages)


async def test_seed_scenario_on_a_native_async_store(
    pg_mem: Memori, openai_server: OpenAIServer
) -> None:
    assert Capability.NATIVE_ASYNC in pg_mem.store.capabilities
    retrieved: list[str] = []
    aretrieve = pg_mem.retriever.aretrieve  # type: ignore[attr-defined]

    async def watched(*args: object, **kwargs: object) -> object:
        retrieved.append(str(args[2]))
        return await aretrieve(*args, **kwargs)

    pg_mem.retriever.aretrieve = watched  # type: ignore[attr-defined]
    client: openai.AsyncOpenAI = pg_mem.llm.register(openai_server.async_client())

    async def say(text: str) -> None:
        await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": text}])

    pg_mem.attribution(entity_id="alice@example.com", process_id="fitness-coach")
    await say("Goal: sub-25 5K by June.")
    await pg_mem.aflush()
    pg_mem.attribution(entity_id="alice@example.com", process_id="meal-planner")
    await say("I am vegetarian.")
    assert "5K" not in _sent(openai_server)
    await pg_mem.aflush()
    pg_mem.attribution(entity_id="alice@example.com", process_id="fitness-coach")
    await say("Remind me of my running goal.")
    coach = _sent(openai_server)
    assert "sub-25 5K by June" in coach and "vegetarian" not in coach
    assert retrieved[-1] == "Remind me of my running goal."  # awaited on the driver
    await pg_mem.aflush()
    turns = pg_mem.store.list_turns(Scope("alice@example.com", "fitness-coach"))
    assert [t.content for t in turns][-2:] == [
        "Remind me of my running goal.", "echo: Remind me of my running goal."]
    await client.close()


def test_sync_calls_on_postgres(pg_mem: Memori, openai_server: OpenAIServer) -> None:
    client = pg_mem.llm.register(openai_server.client())
    pg_mem.attribution(entity_id="bob")
    pg_mem.remember("Bob's bike is a red gravel bike.")
    client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "what bike do I ride?"}])
    assert "red gravel bike" in _sent(openai_server)
    client.close()
