"""``memori mcp`` end to end: the MCP SDK's own client talks to the server it spawns
(stdio, and streamable HTTP on 127.0.0.1), and cannot reach another entity's memories."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import pytest

from memori import Memori
from memori.tools import tool_schemas

pytest.importorskip("mcp", reason="pip install 'memori[mcp]'")

from mcp import ClientSession, StdioServerParameters, stdio_client

TOOL_NAMES = ["remember", "recall", "list_memories", "update_memory", "delete_memory",
              "forget_session"]


def _command(url: str, *options: str) -> list[str]:
    return [sys.executable, "-m", "memori", "mcp", "--url", url, "--embedder", "hash", *options]


def _env(**extra: str) -> dict[str, str]:
    return {"MEMORI_HOME": os.environ["MEMORI_HOME"], **extra}


@asynccontextmanager
async def mcp_session(url: str, *options: str, env: dict[str, str] | None = None
                      ) -> AsyncIterator[ClientSession]:
    command = _command(url, *options)
    params = StdioServerParameters(command=command[0], args=command[1:], env=env or _env())
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        yield session


class Tools:
    """Calls tools and returns (ok, structured result or error text)."""

    def __init__(self, session: ClientSession) -> None:
        self.session = session

    async def __call__(self, name: str, arguments: dict[str, Any]) -> tuple[bool, Any]:
        result = await self.session.call_tool(name, arguments)
        text = "".join(getattr(c, "text", "") for c in result.content)
        if result.is_error:
            return False, text
        assert result.structured_content == json.loads(text)
        return True, result.structured_content

    async def ok(self, name: str, arguments: dict[str, Any]) -> Any:
        ok, value = await self(name, arguments)
        assert ok, value
        return value

    async def refused(self, name: str, arguments: dict[str, Any]) -> str:
        ok, value = await self(name, arguments)
        assert not ok, value
        assert "Traceback" not in value
        return str(value)


async def test_client_lists_remembers_recalls_lists_updates_and_deletes(sqlite_url: str) -> None:
    async with mcp_session(sqlite_url, "--entity", "ana") as session:
        listed = (await session.list_tools()).tools
        assert [t.name for t in listed] == TOOL_NAMES
        shared_spec = {s["name"]: s["parameters"] for s in tool_schemas("responses")}
        for tool in listed:  # one spec: MCP offers exactly what mem.tools() offers
            assert tool.input_schema == shared_spec[tool.name] and tool.description
            assert not any(w in p for p in tool.input_schema["properties"]
                           for w in ("entity", "user", "tenant", "persona"))
        call = Tools(session)
        made = (await call.ok("remember", {"content": "Ana runs a sub-25 5K", "kind": "goal",
                                           "metadata": {"via": "mcp"}}))["memory"]
        hits = (await call.ok("recall", {"query": "5K running goal"}))["hits"]
        assert [h["id"] for h in hits] == [made["id"]]
        page = (await call.ok("list_memories", {"kind": "goal", "limit": 10}))["memories"]
        assert [m["content"] for m in page] == ["Ana runs a sub-25 5K"]
        changed = (await call.ok("update_memory", {"memory_id": made["id"],
                                                   "content": "Ana runs a sub-24 5K"}))["memory"]
        assert changed["content"] == "Ana runs a sub-24 5K"
        assert "limit must be from 1 to 200" in await call.refused(
            "list_memories", {"limit": 5000})
        assert "content must be a string" in await call.refused("remember", {"content": 7})
        assert "unknown tool" in await call.refused("export_all", {})
        assert (await call.ok("delete_memory", {"memory_id": made["id"]}))["deleted"] is True
        assert (await call.ok("list_memories", {}))["memories"] == []
    with Memori(sqlite_url, embedder="hash") as mem:
        assert mem.list_memories(entity_id="ana") == []


async def test_client_cannot_reach_another_entity_whatever_it_sends(sqlite_url: str) -> None:
    with Memori(sqlite_url, embedder="hash") as mem:
        with mem.attribution(entity_id="bob", session_id="bob-session"):
            bob = mem.remember("Bob's door code is 4321", kind="fact")
        mem.remember("Bob shares this", entity_id="bob", shared=True)
    async with mcp_session(sqlite_url, "--entity", "ana") as session:
        call = Tools(session)
        await call.ok("remember", {"content": "Ana's door code is 1234"})
        for key in ("entity_id", "entity", "user", "user_id", "tenant_id", "owner"):
            for tool, args in (("recall", {"query": "door code"}), ("list_memories", {}),
                               ("remember", {"content": "planted"}),
                               ("delete_memory", {"memory_id": bob.id})):
                message = await call.refused(tool, {**args, key: "bob"})
                assert "set by the host application" in message
        for key in ("persona", "process_id"):
            assert "persona" in await call.refused("recall", {"query": "code", key: "x"})
        hits = (await call.ok("recall", {"query": "Bob door code 4321", "limit": 50}))["hits"]
        assert [h["content"] for h in hits] == ["Ana's door code is 1234"]
        listed = (await call.ok("list_memories", {"contains": "Bob", "limit": 200,
                                                  "include_superseded": True}))["memories"]
        assert listed == []
        assert "no memory" in await call.refused(
            "update_memory", {"memory_id": bob.id, "content": "hacked"})
        assert (await call.ok("delete_memory", {"memory_id": bob.id}))["deleted"] is False
        gone = await call.ok("forget_session", {"session_id": "bob-session"})
        assert gone["removed"] == 0
    with Memori(sqlite_url, embedder="hash") as mem:
        kept = {m.content for m in mem.list_memories(entity_id="bob")}
        assert kept == {"Bob's door code is 4321", "Bob shares this"}
        assert [m.content for m in mem.list_memories(entity_id="ana")] == [
            "Ana's door code is 1234"]


async def test_personas_are_bound_or_picked_from_the_allowed_list(sqlite_url: str) -> None:
    env = _env(MEMORI_MCP_ENTITY="ana")  # the entity from the environment
    async with mcp_session(sqlite_url, "--persona", "coach", "--allow-persona", "chef",
                           env=env) as session:
        tools = {t.name: t for t in (await session.list_tools()).tools}
        assert tools["recall"].input_schema["properties"]["persona"]["enum"] == ["coach", "chef"]
        call = Tools(session)
        coach = (await call.ok("remember", {"content": "Intervals on Tuesdays"}))["memory"]
        chef = (await call.ok("remember", {"content": "No peanuts", "persona": "chef"}))["memory"]
        assert (coach["persona"], chef["persona"]) == ("coach", "chef")
        seen = (await call.ok("list_memories", {}))["memories"]
        assert [m["content"] for m in seen] == ["Intervals on Tuesdays"]
        seen = (await call.ok("list_memories", {"persona": "chef"}))["memories"]
        assert [m["content"] for m in seen] == ["No peanuts"]
        assert "must be one of coach, chef" in await call.refused(
            "list_memories", {"persona": "banker"})
        assert (await call.ok("delete_memory", {"memory_id": chef["id"]}))["deleted"] is False
    with Memori(sqlite_url, embedder="hash") as mem:
        assert {m.process_id for m in mem.list_memories(entity_id="ana", process_id="chef")
                } == {"chef"}


def test_a_server_without_an_entity_refuses_to_start(sqlite_url: str) -> None:
    env = {k: v for k, v in os.environ.items() if k != "MEMORI_MCP_ENTITY"}
    out = subprocess.run(_command(sqlite_url), capture_output=True, text=True, env=env,
                         input="", timeout=60)
    assert out.returncode == 2 and "--entity" in out.stderr and "Traceback" not in out.stderr
    out = subprocess.run(_command(sqlite_url, "--entity", ""), capture_output=True,
                         text=True, env=env, input="", timeout=60)
    assert out.returncode == 2 and "entity" in out.stderr
    out = subprocess.run(_command(sqlite_url, "--entity", "ana", "--port", "9"),
                         capture_output=True, text=True, env=env, input="", timeout=60)
    assert out.returncode == 2 and "--port needs --http" in out.stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[Any], timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read() if process.stderr else ""
            raise AssertionError(f"server exited: {error}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError("server did not listen")


async def test_streamable_http_on_loopback(sqlite_url: str) -> None:
    from mcp import Client

    port = _free_port()
    command: Sequence[str] = _command(sqlite_url, "--entity", "ana", "--http",
                                      "--port", str(port))
    process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, env={**os.environ, **_env()})
    try:
        _wait_for_port(port, process)
        async with Client(f"http://127.0.0.1:{port}/mcp") as client:
            assert [t.name for t in (await client.list_tools()).tools] == TOOL_NAMES
            made = await client.call_tool("remember", {"content": "Ana swims on Fridays"})
            assert not made.is_error
            refused = await client.call_tool("recall", {"query": "swim", "entity_id": "bob"})
            assert refused.is_error
            found = await client.call_tool("recall", {"query": "swims Fridays"})
            assert found.structured_content is not None
            assert [h["content"] for h in found.structured_content["hits"]] == [
                "Ana swims on Fridays"]
    finally:
        process.terminate()
        process.wait(timeout=20)
        for stream in (process.stdout, process.stderr):
            if stream is not None:
                stream.close()


def test_the_binding_takes_the_entity_from_the_environment_and_keeps_the_default_persona(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from memori.mcp import ENV_ENTITY, Binding

    monkeypatch.setenv(ENV_ENTITY, "ana")
    binding = Binding.from_options(None, "coach", "chef, baker,chef")
    assert (binding.entity_id, binding.persona) == ("ana", "coach")
    assert binding.allowed == ("coach", "chef", "baker")
    assert Binding.from_options("bob").entity_id == "bob"  # the option wins
    monkeypatch.delenv(ENV_ENTITY)
    with pytest.raises(ValueError, match="--entity"):
        Binding.from_options(None)
    with pytest.raises(ValueError, match="entity_id"):
        Binding.from_options("a\x00b")


def test_mcp_has_help() -> None:
    out = subprocess.run([sys.executable, "-m", "memori", "mcp", "--help"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--allow-persona" in out.stdout and "--http" in out.stdout
