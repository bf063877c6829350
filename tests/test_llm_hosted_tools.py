"""Tool items of Responses output (hosted tools, caller-run tools) are recorded as tool turns."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest

from memori import Memori
from memori.core import Scope
from memori.testing import OpenAIServer, Reply
from memori.testing.openai_hosted import (
    code_interpreter_call,
    computer_call,
    file_search_call,
    local_shell_call,
    mcp_call,
    mcp_list_tools,
    shell_call,
    web_search_call,
)

MODEL = "gpt-4.1-mini"
HOSTED = (
    web_search_call("oslo marathon date", sources=["https://example.org/oslo"]),
    file_search_call(["training plan"], results=[("plan.md", "Week 1: easy runs")]),
    mcp_list_tools("strava", ["get_runs", "get_profile"]),
    mcp_call("strava", "get_runs", '{"days":7}', output="3 runs, 21 km"),
    code_interpreter_call("print(21/3)", logs="7.0"),
)
EXPECTED = [
    ("user", "plan my week"),
    ("tool", "web search: oslo marathon date\nsources: https://example.org/oslo"),
    ("tool", "file search: training plan\n- plan.md: Week 1: easy runs"),
    ("tool", "mcp strava tools: get_runs, get_profile"),
    ("tool", 'mcp strava.get_runs({"days":7})\n3 runs, 21 km'),
    ("tool", "code interpreter:\nprint(21/3)\n7.0"),
    ("assistant", "Three easy runs."),
]


@pytest.fixture
def client(mem: Memori, openai_server: OpenAIServer) -> Iterator[openai.OpenAI]:
    c = mem.llm.register(openai_server.client())
    yield c
    c.close()


def recorded(mem: Memori) -> list[tuple[str, str]]:
    mem.flush()
    return [(t.role, t.content) for t in mem.store.list_turns(Scope("u1"))]


def test_hosted_tool_items_become_tool_turns_before_the_reply(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply(text="Three easy runs.", output_items=HOSTED))
    response = client.responses.create(model=MODEL, input="plan my week")
    assert [item.type for item in response.output] == [
        "web_search_call", "file_search_call", "mcp_list_tools", "mcp_call",
        "code_interpreter_call", "message"]
    assert response.output_text == "Three easy runs."
    assert recorded(mem) == EXPECTED
    tool = mem.store.list_turns(Scope("u1"))[1]
    assert tool.metadata["tool"] == "web_search_call"
    assert tool.metadata["tool_call_id"] == response.output[0].id
    assert tool.metadata["response_id"] == response.id


def test_streamed_hosted_items_are_recorded_the_same(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply(text="Three easy runs.", output_items=HOSTED))
    kinds = [e.type for e in client.responses.create(model=MODEL, input="plan my week",
                                                      stream=True)]
    assert "response.web_search_call.searching" in kinds
    assert "response.mcp_call.completed" in kinds
    assert recorded(mem) == EXPECTED
    openai_server.enqueue(Reply(text="Done.", output_items=HOSTED[:1]))
    with client.responses.stream(model=MODEL, input="again") as stream:
        final = stream.get_final_response()
    assert [item.type for item in final.output] == ["web_search_call", "message"]
    assert recorded(mem)[-3:] == [("user", "again"), EXPECTED[1], ("assistant", "Done.")]


def test_a_stream_cut_after_a_tool_item_keeps_it(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply(text="one two three four", output_items=HOSTED[:1],
                                chunk_delay=0.005))
    stream = client.responses.create(model=MODEL, input="plan my week", stream=True)
    for event in stream:
        if event.type == "response.output_text.delta":
            break
    stream.close()
    mem.flush()
    turns = mem.store.list_turns(Scope("u1"))
    assert [(t.role, t.content) for t in turns] == [
        ("user", "plan my week"), EXPECTED[1], ("assistant", "one ")]
    assert turns[-1].metadata["partial"] is True


def test_failed_mcp_call_records_its_error(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply(text="Strava is down.", output_items=[
        mcp_call("strava", "get_runs", "{}", error="upstream timeout")]))
    client.responses.create(model=MODEL, input="my runs?")
    assert recorded(mem)[1] == ("tool", "mcp strava.get_runs({})\nerror: upstream timeout")


@pytest.mark.parametrize(("item", "output", "call_text", "output_text"), [
    (shell_call(["ls -la"], call_id="call_sh"),
     {"type": "shell_call_output", "call_id": "call_sh", "output": [
         {"stdout": "plan.md", "stderr": "", "outcome": {"type": "exit", "exit_code": 0}}]},
     "shell:\nls -la", "plan.md"),
    (local_shell_call(["cat", "plan.md"], call_id="call_lsh"),
     {"type": "local_shell_call_output", "id": "call_lsh", "output": "Week 1"},
     "local shell: cat plan.md", "Week 1"),
    (computer_call({"type": "click", "button": "left", "x": 3, "y": 4}, call_id="call_cu"),
     {"type": "computer_call_output", "call_id": "call_cu",
      "output": {"type": "computer_screenshot", "image_url": "data:image/png;base64,AA=="}},
     "computer: click(button=left, x=3, y=4)", "computer: screenshot"),
])
def test_caller_run_tools_record_the_call_and_its_result_once(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer,
    item: dict[str, Any], output: dict[str, Any], call_text: str, output_text: str,
) -> None:
    mem.attribution(entity_id="u1")
    openai_server.enqueue(Reply(text="", output_items=[item]))
    first = client.responses.create(model=MODEL, input="look at my plan")
    assert first.output[0].type == item["type"]
    openai_server.enqueue("Your plan starts easy.")
    sent_back = [{"role": "user", "content": "look at my plan"},
                 first.output[0].model_dump(exclude_none=True), output]
    client.responses.create(model=MODEL, input=sent_back)  # type: ignore[arg-type]
    assert [(role, text) for role, text in recorded(mem) if text] == [
        ("user", "look at my plan"), ("tool", call_text), ("tool", output_text),
        ("assistant", "Your plan starts easy.")]
