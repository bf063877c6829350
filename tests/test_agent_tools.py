"""Memory as agent tools without MCP: ``mem.tools()`` schemas and ``mem.call_tool`` runs,
and a tool-calling loop through the real openai SDK against the loopback stand-in."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

import pytest

from memori import Memori
from memori.testing import OpenAIServer, Reply, ToolCall
from memori.tools import TOOLS, ToolError, UnknownToolError

MODEL = "gpt-4o-mini"
TOOL_NAMES = ["remember", "recall", "list_memories", "update_memory", "delete_memory",
              "forget_session"]
ENTITY_WORDS = ("entity", "user", "tenant", "owner")


def _properties(schema: dict[str, Any]) -> dict[str, Any]:
    return schema["function"]["parameters"]["properties"] if "function" in schema \
        else schema["parameters"]["properties"]


def test_tools_offer_every_operation_and_no_entity_argument(mem: Memori) -> None:
    chat, flat = mem.tools(), mem.tools(format="responses")
    assert [t["function"]["name"] for t in chat] == TOOL_NAMES
    assert [t["name"] for t in flat] == TOOL_NAMES
    for c, f in zip(chat, flat, strict=True):
        assert c["type"] == f["type"] == "function"
        assert c["function"]["parameters"] == f["parameters"]
        assert c["function"]["description"] == f["description"] and f["strict"] is False
        params = f["parameters"]
        assert params["type"] == "object" and params["additionalProperties"] is False
        assert not [p for p in _properties(f) if any(w in p for w in ENTITY_WORDS)]
        assert "persona" not in _properties(f) and "process_id" not in _properties(f)
    json.dumps(chat), json.dumps(flat)  # plain JSON, sendable as is
    with pytest.raises(ValueError, match="format must be one of chat, responses"):
        mem.tools(format="anthropic")


def test_the_tool_schemas_are_accepted_by_the_openai_sdk_types() -> None:
    from openai.types.chat import ChatCompletionToolParam
    from openai.types.responses import FunctionToolParam

    from memori.tools import tool_schemas

    chat_keys = set(ChatCompletionToolParam.__annotations__)
    flat_keys = set(FunctionToolParam.__annotations__)
    for schema in tool_schemas("chat"):
        assert set(schema) <= chat_keys
    for schema in tool_schemas("responses"):
        assert set(schema) <= flat_keys and {"name", "parameters", "strict", "type"} <= set(schema)


def test_call_tool_runs_every_operation_in_the_current_attribution(mem: Memori) -> None:
    mem.attribution(entity_id="ana", process_id="coach")
    made = mem.call_tool("remember", {"content": "Goal: sub-25 5K by June", "kind": "goal",
                                      "metadata": {"source": "chat"}})["memory"]
    assert made["kind"] == "goal" and made["persona"] == "coach" and "entity_id" not in made
    hits = mem.call_tool("recall", '{"query": "5K goal", "limit": 3}')["hits"]  # JSON text too
    assert [h["id"] for h in hits] == [made["id"]] and 0 < hits[0]["score"] <= 1
    listed = mem.call_tool("list_memories", {"kind": "goal", "contains": "5k",
                                             "since": "2000-01-01", "until": "2999-01-01Z"})
    assert [m["id"] for m in listed["memories"]] == [made["id"]]
    updated = mem.call_tool("update_memory", {"memory_id": made["id"],
                                              "content": "Goal: sub-24 5K by June"})["memory"]
    assert updated["content"] == "Goal: sub-24 5K by June" and updated["updated_at"]
    assert mem.get_memory(made["id"]).content == "Goal: sub-24 5K by June"  # type: ignore[union-attr]
    assert mem.call_tool("delete_memory", {"memory_id": made["id"]}) == {
        "memory_id": made["id"], "deleted": True}
    assert mem.call_tool("delete_memory", {"memory_id": made["id"]})["deleted"] is False
    gone = mem.call_tool("forget_session", {})
    assert gone["session_id"] == mem.current.session_id and gone["removed"] >= 0
    assert mem.list_memories() == []


def test_call_tool_refuses_bad_calls_with_a_message_for_the_model(mem: Memori) -> None:
    with pytest.raises(ToolError, match="no entity is attributed"):
        mem.call_tool("recall", {"query": "x"})
    mem.attribution(entity_id="ana")
    refused: list[tuple[str, Any, str]] = [
        ("forget_everything", "{}", "unknown tool 'forget_everything'"),
        ("recall", {}, "missing required argument"),
        ("recall", {"query": 5}, "query must be a string, got integer"),
        ("recall", {"query": "x", "limit": 0}, "limit must be from 1 to 50"),
        ("recall", "{not json", "not valid JSON"),
        ("recall", "[1, 2]", "must be a JSON object"),
        ("remember", {"content": "   "}, "content must not be empty"),
        ("remember", {"content": "x", "shared": "yes"}, "shared must be a boolean"),
        ("remember", {"content": "x", "metadata": {"n": float("nan")}}, "metadata"),
        ("remember", {"content": "x", "colour": "red"}, "unknown argument 'colour'"),
        ("list_memories", {"since": "last week"}, "ISO 8601"),
        ("update_memory", {"memory_id": "m1"}, "at least one of"),
        ("update_memory", {"memory_id": "m1", "content": "x"}, "no memory 'm1'"),
    ]
    for name, args, message in refused:
        with pytest.raises(ToolError, match=message):
            mem.call_tool(name, args)
    with pytest.raises(UnknownToolError):
        mem.call_tool("nope")
    for word in ("entity_id", "entity", "user", "user_id", "tenant"):
        with pytest.raises(ToolError, match="set by the host application"):
            mem.call_tool("recall", {"query": "x", word: "bob"})
    with pytest.raises(ToolError, match="persona is set by the host"):
        mem.call_tool("remember", {"content": "x", "process_id": "chef"})
    assert mem.list_memories() == []  # nothing refused was stored


def test_call_tool_cannot_reach_another_entity(mem: Memori) -> None:
    bob = mem.remember("Bob's PIN is 4321", entity_id="bob")
    mem.attribution(entity_id="ana")
    assert mem.call_tool("recall", {"query": "Bob PIN"})["hits"] == []
    assert mem.call_tool("list_memories", {})["memories"] == []
    with pytest.raises(ToolError, match="no memory"):
        mem.call_tool("update_memory", {"memory_id": bob.id, "content": "hacked"})
    assert mem.call_tool("delete_memory", {"memory_id": bob.id})["deleted"] is False
    assert mem.call_tool("forget_session", {"session_id": bob.session_id or "s"})["removed"] == 0
    kept = mem.get_memory(bob.id, entity_id="bob")
    assert kept is not None and kept.content == "Bob's PIN is 4321"


def test_a_tool_bound_to_no_persona_cannot_forget_a_personas_session(mem: Memori) -> None:
    from memori.core import Scope, Turn

    coach = Turn(entity_id="ana", process_id="coach", session_id="coach-s", role="user",
                 content="my knee hurts")
    mine = Turn(entity_id="ana", session_id="own-s", role="user", content="hello")
    mem.record([coach, mine])
    assert mem.flush(timeout=30)
    mem.attribution(entity_id="ana")  # no persona: it sees persona-less turns only
    with pytest.raises(ToolError, match="belongs to a persona"):
        mem.call_tool("forget_session", {"session_id": "coach-s"})
    assert [t.content for t in mem.store.list_turns(Scope("ana", "coach", "coach-s"))] == [
        "my knee hurts"]
    assert mem.call_tool("forget_session", {"session_id": "own-s"})["removed"] >= 1
    assert mem.store.list_turns(Scope("ana", None, "own-s")) == []
    mem.attribution(entity_id="ana", process_id="coach")  # the persona may
    assert mem.call_tool("forget_session", {"session_id": "coach-s"})["removed"] >= 1
    assert mem.store.list_turns(Scope("ana", "coach", "coach-s")) == []


async def test_acall_tool_runs_in_the_tasks_attribution(mem: Memori) -> None:
    import asyncio

    async def agent(entity: str) -> list[str]:
        mem.attribution(entity_id=entity)
        await mem.acall_tool("remember", {"content": f"{entity} likes tea"})
        listed = await mem.acall_tool("list_memories", {})
        return [m["content"] for m in listed["memories"]]

    ana, bob = await asyncio.gather(agent("ana"), agent("bob"))
    assert ana == ["ana likes tea"] and bob == ["bob likes tea"]


def test_importing_memori_and_using_tools_does_not_import_the_mcp_sdk() -> None:
    code = ("import sys, memori, memori.tools, memori.mcp; "
            "from memori.tools import tool_schemas; tool_schemas(); "
            "assert 'mcp' not in sys.modules and 'mcp_types' not in sys.modules, "
            "sorted(m for m in sys.modules if m.startswith('mcp'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr


def test_one_spec_defines_every_tool() -> None:
    assert list(TOOLS) == TOOL_NAMES
    for spec in TOOLS.values():
        assert spec.description and set(spec.required) <= set(spec.properties)


# a tool-calling loop: the model decides, the application runs mem.call_tool
def _agent_turn(client: Any, mem: Memori, text: str) -> tuple[str, list[Any]]:
    """One user message through a chat-completions tool loop; the answer and messages."""
    messages: list[Any] = [{"role": "system", "content": "You have a long-term memory."},
                           {"role": "user", "content": text}]
    for _ in range(4):
        reply = client.chat.completions.create(model=MODEL, messages=messages,
                                               tools=mem.tools())
        message = reply.choices[0].message
        if not message.tool_calls:
            return str(message.content), messages
        messages.append(message.model_dump(exclude_none=True))
        for call in message.tool_calls:
            try:
                result: Any = mem.call_tool(call.function.name, call.function.arguments)
            except ToolError as e:
                result = {"error": str(e)}
            messages.append({"role": "tool", "tool_call_id": call.id,
                             "content": json.dumps(result)})
    raise AssertionError("the agent did not answer")


def test_an_agent_remembers_then_recalls_through_tool_calls(
    mem: Memori, openai_server: OpenAIServer
) -> None:
    client = openai_server.client()
    mem.attribution(entity_id="ana", process_id="coach")
    openai_server.enqueue(
        Reply.tools(ToolCall("remember", {"content": "Ana's goal: a sub-25 5K by June",
                                          "kind": "goal"}, id="call_1")),
        "Noted: sub-25 5K by June.")
    answer, _ = _agent_turn(client, mem, "My goal is a sub-25 5K by June.")
    assert answer == "Noted: sub-25 5K by June."
    first = openai_server.chat_requests()
    assert [t["function"]["name"] for t in first[0].json["tools"]] == TOOL_NAMES
    assert json.loads(first[1].messages[-1]["content"])["memory"]["kind"] == "goal"

    mem.new_session()  # a later conversation
    openai_server.clear_requests()
    openai_server.enqueue(
        Reply.tools(ToolCall("recall", {"query": "running goal"}, id="call_2")),
        "Your goal is a sub-25 5K by June.")
    answer, messages = _agent_turn(client, mem, "What is my running goal?")
    assert answer == "Your goal is a sub-25 5K by June."
    sent = openai_server.chat_requests()[-1].messages
    tool_result = json.loads(next(m for m in sent if m["role"] == "tool")["content"])
    assert [h["content"] for h in tool_result["hits"]] == ["Ana's goal: a sub-25 5K by June"]
    assert sent[-2]["tool_calls"][0]["function"]["name"] == "recall"

    # the same loop for another user finds nothing of Ana's, whatever the model asks
    mem.attribution(entity_id="bob", process_id="coach")
    openai_server.enqueue(
        Reply.tools(ToolCall("recall", {"query": "running goal", "entity_id": "ana"}, id="c3"),
                    ToolCall("recall", {"query": "running goal"}, id="c4")),
        "I have nothing on that.")
    _, messages = _agent_turn(client, mem, "What is Ana's running goal?")
    results = [json.loads(m["content"]) for m in messages if m.get("role") == "tool"]
    assert "set by the host application" in results[0]["error"]
    assert results[1] == {"hits": []}


def test_an_agent_on_the_responses_api_uses_the_flat_tool_form(
    mem: Memori, openai_server: OpenAIServer
) -> None:
    client = openai_server.client()
    mem.attribution(entity_id="ana")
    openai_server.enqueue(
        Reply.tools(ToolCall("remember", {"content": "Ana is vegetarian"}, id="fc_1")),
        endpoint="responses")
    first = client.responses.create(model=MODEL, input="I am vegetarian.",
                                    tools=mem.tools(format="responses"))  # type: ignore[arg-type]
    calls = [item for item in first.output if item.type == "function_call"]
    outputs = [{"type": "function_call_output", "call_id": c.call_id,
                "output": json.dumps(mem.call_tool(c.name, c.arguments))} for c in calls]
    openai_server.enqueue("Noted.", endpoint="responses")
    second = client.responses.create(model=MODEL, input=outputs,  # type: ignore[arg-type]
                                     tools=mem.tools(format="responses"))  # type: ignore[arg-type]
    assert second.output_text == "Noted."
    assert [m.content for m in mem.list_memories()] == ["Ana is vegetarian"]
    sent = openai_server.responses_requests()[-1].json
    assert json.loads(sent["input"][0]["output"])["memory"]["content"] == "Ana is vegetarian"
