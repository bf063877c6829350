"""The OpenAI Agents SDK (``openai-agents``) on a registered AsyncOpenAI client, against the
loopback stand-in: runs are recorded and the next run of the same user and persona recalls them.

Tracing export is disabled, so nothing leaves the machine: an audit hook checks that every
connection made during these tests goes to loopback.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import openai
import pytest

from loopback_audit import loopback_only, seed_scenario
from memori import Memori
from memori.core import Scope
from memori.testing import OpenAIServer, Reply, ToolCall
from memori.testing.openai_hosted import web_search_call

agents = pytest.importorskip("agents")

MODEL = "gpt-4.1-mini"
GOAL = "My goal is a sub-25 5K by June."


@pytest.fixture(autouse=True)
def _no_tracing(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("OPENAI_AGENTS_DISABLE_TRACING", "1")
    agents.set_tracing_disabled(True)
    with loopback_only(lookups=False):
        yield


@pytest.fixture
async def aclient(mem: Memori, openai_server: OpenAIServer) -> AsyncIterator[openai.AsyncOpenAI]:
    c = mem.llm.register(openai_server.async_client())
    yield c
    await c.close()


def make_agent(client: openai.AsyncOpenAI, api: str, name: str = "coach") -> Any:
    if api == "responses":
        model = agents.OpenAIResponsesModel(model=MODEL, openai_client=client)
    else:
        model = agents.OpenAIChatCompletionsModel(model=MODEL, openai_client=client)
    return agents.Agent(name=name, instructions=f"You are a {name}.", model=model)


async def run(agent: Any, text: str, *, streamed: bool, **kwargs: Any) -> Any:
    if not streamed:
        return await agents.Runner.run(agent, text, **kwargs)
    result = agents.Runner.run_streamed(agent, text, **kwargs)
    async for _ in result.stream_events():
        pass
    return result


def last_sent(server: OpenAIServer) -> str:
    return json.dumps(server.last_request().json)


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
@pytest.mark.parametrize("api", ["responses", "chat"])
async def test_goal_reaches_the_coach_and_no_one_else(
    mem: Memori, aclient: openai.AsyncOpenAI, openai_server: OpenAIServer,
    api: str, streamed: bool,
) -> None:
    agent = {"running coach": make_agent(aclient, api),
             "meal planner": make_agent(aclient, api, "planner")}

    async def ask(persona: str, text: str) -> str:
        return str((await run(agent[persona], text, streamed=streamed)).final_output)

    recorded = await seed_scenario(mem, ask, lambda: last_sent(openai_server), goal=GOAL,
                                   question="What is my goal?")
    assert recorded[1].metadata["api"] == api


@pytest.mark.parametrize("streamed", [False, True], ids=["run", "run_streamed"])
async def test_previous_response_id_run_stays_in_the_first_runs_session(
    mem: Memori, aclient: openai.AsyncOpenAI, openai_server: OpenAIServer, streamed: bool
) -> None:
    coach = make_agent(aclient, "responses")
    mem.attribution(entity_id="ana", process_id="coach", session_id="first")
    first = await run(coach, GOAL, streamed=streamed)
    mem.attribution(entity_id="ana", process_id="coach", session_id="second")
    await run(coach, "How far this week?", streamed=streamed,
              previous_response_id=first.last_response_id)
    assert openai_server.last_request().json["previous_response_id"] == first.last_response_id
    await mem.aflush()
    recorded = mem.store.list_turns(Scope("ana", "coach"))
    assert {t.session_id for t in recorded} == {"first"}
    assert [t.content for t in recorded][-2:] == [
        "How far this week?", "echo: How far this week?"]


@pytest.mark.parametrize("api", ["responses", "chat"])
async def test_function_tool_run_records_the_call_and_its_result(
    mem: Memori, aclient: openai.AsyncOpenAI, openai_server: OpenAIServer, api: str
) -> None:
    @agents.function_tool
    def log_run(km: float) -> str:
        """Log a run of the given distance."""
        return f"logged {km} km"

    coach = make_agent(aclient, api)
    coach.tools = [log_run]
    openai_server.enqueue(Reply.tools(ToolCall("log_run", {"km": 5}, id="call_log")),
                          "Logged your 5 km.")
    mem.attribution(entity_id="ana", process_id="coach", session_id="s")
    result = await run(coach, "I ran 5 km today", streamed=True)
    assert result.final_output == "Logged your 5 km."
    await mem.aflush()
    recorded = mem.store.list_turns(Scope("ana", "coach"))
    assert [(t.role, t.content) for t in recorded] == [
        ("user", "I ran 5 km today"), ("assistant", ""), ("tool", "logged 5.0 km"),
        ("assistant", "Logged your 5 km.")]
    assert recorded[1].metadata["tool_calls"][0]["function"]["name"] == "log_run"


async def test_hosted_web_search_is_recorded_as_a_tool_turn(
    mem: Memori, aclient: openai.AsyncOpenAI, openai_server: OpenAIServer
) -> None:
    coach = make_agent(aclient, "responses")
    coach.tools = [agents.WebSearchTool()]
    openai_server.enqueue(Reply(text="Sunny, 14 degrees.", output_items=[
        web_search_call("oslo weather", sources=["https://example.org/oslo"])]))
    mem.attribution(entity_id="ana", process_id="coach", session_id="s")
    result = await run(coach, "Weather for my run in Oslo?", streamed=True)
    assert result.final_output == "Sunny, 14 degrees."
    await mem.aflush()
    assert [(t.role, t.content) for t in mem.store.list_turns(Scope("ana", "coach"))] == [
        ("user", "Weather for my run in Oslo?"),
        ("tool", "web search: oslo weather\nsources: https://example.org/oslo"),
        ("assistant", "Sunny, 14 degrees.")]


def test_the_docs_example_runs() -> None:
    text = (Path(__file__).parents[1] / "docs" / "llm.md").read_text(encoding="utf-8")
    section = text.split("## OpenAI Agents SDK", 1)[1]
    code = section.split("```python\n", 1)[1].split("```", 1)[0]
    exec(compile(code, "docs/llm.md", "exec"), {"__name__": "docs_example"})


@pytest.mark.parametrize("api", ["responses", "chat"])
async def test_a_cancelled_streamed_run_records_a_partial_reply(
    mem: Memori, aclient: openai.AsyncOpenAI, openai_server: OpenAIServer, api: str
) -> None:
    coach = make_agent(aclient, api)
    openai_server.enqueue(Reply(text="one two three four five six", chunk_delay=0.02))
    mem.attribution(entity_id="ana", process_id="coach", session_id="s")
    result = agents.Runner.run_streamed(coach, "count to six")
    async for event in result.stream_events():
        if event.type == "raw_response_event" and "delta" in event.data.type:
            result.cancel()
    for _ in range(100):  # the SDK closes the response in its own task
        if mem.llm.stats.partial_replies:
            break
        await asyncio.sleep(0.01)
    await mem.aflush()
    recorded = mem.store.list_turns(Scope("ana", "coach"))
    assert [t.role for t in recorded] == ["user", "assistant"]
    assert recorded[1].metadata["partial"] is True
    assert "six" not in recorded[1].content
