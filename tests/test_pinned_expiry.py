"""Pinned memories and expiry end to end: what registered calls inject, recall, the
retention policy, the sweep (Python, background and ``memori sweep``), and the CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from memori import Memori, NotFoundError
from memori.core import ConfigurationError, Hit, Memory
from memori.llm.context import MEMORIES_HEADING, OPEN_TAG, PINNED_HEADING, build_block
from memori.retention import Retention
from memori.retrieval import count_tokens
from memori.testing import OpenAIServer
from memori.tools.errors import ToolError

MODEL = "gpt-4o-mini"
MEMORI = shutil.which("memori", path=str(Path(sys.executable).parent)) or "memori"


def cli(*args: str, url: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("MEMORI_")}
    return subprocess.run([MEMORI, *args, "--embedder", "hash", "--url", url],
                          capture_output=True, text=True, env=env, timeout=120)


@pytest.fixture
def mem(sqlite_url: str) -> Iterator[Memori]:
    m = Memori(sqlite_url, embedder="hash", extractor=None, sweep_every=None)
    yield m
    m.close()


@pytest.fixture
def client(mem: Memori, openai_server: OpenAIServer) -> Iterator[openai.OpenAI]:
    c = mem.llm.register(openai_server.client())
    yield c
    c.close()


def block_of(server: OpenAIServer) -> str:
    """The memori block the last chat request carried ('' when none)."""
    for m in server.last_request("chat").messages:
        content = m.get("content")
        if isinstance(content, str) and content.startswith(OPEN_TAG):
            return content
    return ""


def say(client: openai.OpenAI, server: OpenAIServer, text: str) -> str:
    client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": text}])
    return block_of(server)


# pinned

def test_a_pinned_memory_is_injected_first_on_every_call_of_its_scope_only(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    pinned = mem.remember("Always answer in French.", entity_id="alice", process_id="coach",
                          pinned=True)
    mem.remember("Goal: sub-25 5K by June.", entity_id="alice", process_id="coach")
    mem.remember("Bob pinned this.", entity_id="bob", process_id="coach", pinned=True)
    mem.attribution(entity_id="alice", process_id="coach")
    for question in ("What is the weather like?", "What is my running goal?", "Hi"):
        block = say(client, openai_server, question)
        assert pinned.content in block, question
        first = block.index(PINNED_HEADING)
        assert block.index(pinned.content) > first
        if MEMORIES_HEADING in block:
            assert block.index(MEMORIES_HEADING) > block.index(pinned.content)
        assert "Bob pinned this." not in block
    for entity, persona in (("alice", "planner"), ("alice", None), ("bob", "other")):
        mem.attribution(entity_id=entity, process_id=persona)
        sent = say(client, openai_server, "Always answer in French?")
        assert pinned.content not in sent, (entity, persona)
        assert "Bob pinned this." not in sent


def test_a_pin_made_by_another_process_shows_on_the_next_call(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer, sqlite_url: str
) -> None:
    """The SQLite store serves pinned memories from its in-process item cache once the
    entity is searched often: a pin or unpin made by another process (here the CLI) is
    on the very next call all the same."""
    m = mem.remember("Always answer in French.", entity_id="alice", process_id="coach")
    mem.attribution(entity_id="alice", process_id="coach")
    for _ in range(6):  # the entity's items are cached after a few searches
        assert PINNED_HEADING not in say(client, openai_server, "Bonjour, how are you?")
    assert mem.store.admin_stats()["item_cache"]["builds"] >= 1
    pinned = cli("memories", "pin", m.id, "--entity", "alice", "--persona", "coach",
                 url=sqlite_url)
    assert pinned.returncode == 0, pinned.stderr
    block = say(client, openai_server, "Bonjour again")
    assert PINNED_HEADING in block and block.index(m.content) > block.index(PINNED_HEADING)
    unpinned = cli("memories", "unpin", m.id, "--entity", "alice", "--persona", "coach",
                   url=sqlite_url)
    assert unpinned.returncode == 0, unpinned.stderr
    assert PINNED_HEADING not in say(client, openai_server, "Bonjour once more")


def test_a_shared_pinned_memory_is_injected_for_every_persona(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    m = mem.remember("Prefers metric units.", entity_id="alice", process_id="coach",
                     shared=True)
    mem.pin(m.id, entity_id="alice", process_id="coach")
    mem.attribution(entity_id="alice", process_id="planner")
    assert m.content in say(client, openai_server, "Hello")
    mem.unpin(m.id, entity_id="alice", process_id="planner")
    assert m.content not in say(client, openai_server, "Hello again")


def test_pin_unpin_and_list_pinned(mem: Memori) -> None:
    mem.attribution(entity_id="alice", process_id="coach")
    a = mem.remember("Pinned fact.")
    b = mem.remember("Plain fact.")
    assert mem.pin(a.id).pinned is True
    assert [m.id for m in mem.list_memories(pinned=True)] == [a.id]
    assert [m.id for m in mem.list_memories(pinned=False)] == [b.id]
    assert mem.update_memory(a.id, pinned=False).pinned is False
    assert mem.list_memories(pinned=True) == []
    with pytest.raises(NotFoundError):
        mem.pin(a.id, entity_id="bob")
    with pytest.raises(ValueError, match="pinned"):
        mem.update_memory(a.id, pinned="yes")  # type: ignore[arg-type]


@pytest.mark.asyncio
async def test_async_pin_unpin_and_sweep(mem: Memori) -> None:
    m = await mem.aremember("Async pinned.", entity_id="alice")
    assert (await mem.apin(m.id, entity_id="alice")).pinned
    assert not (await mem.aunpin(m.id, entity_id="alice")).pinned
    await mem.aremember("Gone soon.", entity_id="alice", expires_at=time.time() - 1)
    assert await mem.asweep() == 1


def test_pinned_memories_stay_within_their_share_of_the_budget() -> None:
    pins = [Memory(entity_id="e", content=f"pinned number {i} " + "word " * 20)
            for i in range(20)]
    for share in (0.25, 0.1, 0.5):
        block = build_block([Hit(Memory(entity_id="e", content="a recalled fact"), 0.9)], [],
                            budget=600, pinned=pins, pinned_share=share)
        assert block is not None and 0 < block.pinned < len(pins)
        lines = [line for line in block.text.splitlines() if "pinned number" in line]
        assert sum(count_tokens(line) for line in lines) <= share * 600
        assert block.memories == 1  # the rest of the budget is still there
        assert block.tokens <= 600
    assert build_block([], [], budget=600, pinned=pins, pinned_share=0) is None


def test_pinned_share_is_checked(sqlite_url: str) -> None:
    with pytest.raises(ValueError, match="pinned_share"):
        Memori(sqlite_url, embedder="hash", pinned_share=1.5)


# expiry

def test_an_expired_memory_is_never_recalled_nor_injected_even_before_a_sweep(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="alice")
    gone = mem.remember("My locker code is 4512.", expires_at=time.time() - 1)
    pinned_gone = mem.remember("Temporary rule: reply briefly.", pinned=True, ttl=0.2)
    kept = mem.remember("My bike lock code is 7788.", ttl=3600)
    time.sleep(0.3)
    assert {h.id for h in mem.recall("locker code bike lock")} == {kept.id}
    assert gone.id not in {h.id for h in mem.recall("locker code 4512", kind="note")}
    block = say(client, openai_server, "What is my locker code or bike lock code?")
    assert "7788" in block and "4512" not in block
    assert pinned_gone.content not in block
    assert {m.id for m in mem.list_memories()} == {kept.id}
    assert {m.id for m in mem.list_memories(include_expired=True)} == {
        gone.id, pinned_gone.id, kept.id}
    assert mem.get_memory(gone.id) is not None  # still stored: no sweep ran
    assert mem.sweep() == 2
    assert mem.get_memory(gone.id) is None and mem.get_memory(kept.id) is not None


def test_remember_expiry_arguments(mem: Memori) -> None:
    mem.attribution(entity_id="alice")
    before = time.time()
    assert mem.remember("a", ttl=60).expires_at == pytest.approx(before + 60, abs=5)
    assert mem.remember("b", expires_at=before + 10).expires_at == before + 10
    assert mem.remember("c").expires_at is None
    m = mem.remember("d")
    assert mem.update_memory(m.id, expires_at=before + 5).expires_at == before + 5
    assert mem.update_memory(m.id, content="d!").expires_at == before + 5  # left as it is
    assert mem.update_memory(m.id, expires_at=None).expires_at is None
    for bad in ({"ttl": 0}, {"ttl": -1}, {"expires_at": "tomorrow"},
                {"ttl": 5, "expires_at": before}):
        with pytest.raises(ValueError):
            mem.remember("x", **bad)  # type: ignore[arg-type]


def test_the_retention_policy_sets_expiry_by_kind(sqlite_url: str) -> None:
    policy = {"default": 3600, "event": 60, "preference": None}
    with Memori(sqlite_url, embedder="hash", extractor=None, retention=policy,
                sweep_every=None) as mem:
        mem.attribution(entity_id="alice")
        note = mem.remember("A note.")
        event = mem.remember("Went to the dentist.", kind="event")
        pref = mem.remember("Likes tea.", kind="preference")
        own = mem.remember("Explicit.", kind="event", ttl=5)
        assert note.expires_at == pytest.approx(note.created_at + 3600)
        assert event.expires_at == pytest.approx(event.created_at + 60)
        assert pref.expires_at is None
        assert own.expires_at is not None and own.expires_at < own.created_at + 10
        stored = mem.get_memory(event.id)
        assert stored is not None and stored.expires_at == event.expires_at


def test_extracted_memories_follow_the_retention_policy(
    sqlite_url: str, openai_server: OpenAIServer
) -> None:
    with Memori(sqlite_url, embedder="hash", retention={"default": 1000},
                sweep_every=None) as mem:
        client = mem.llm.register(openai_server.client())
        mem.attribution(entity_id="alice")
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "I live in Lisbon."}])
        mem.flush()
        found = mem.list_memories()
        assert found and all(m.expires_at == pytest.approx(m.created_at + 1000)
                             for m in found)


def test_retention_is_checked_and_read_from_the_environment(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for bad in ({"event": 0}, {"event": "1d"}, {"": 5}, [("default", 5)]):
        with pytest.raises(ValueError):
            Retention.of(bad)
    monkeypatch.setenv("MEMORI_RETENTION", "default=120, event=none")
    with Memori(sqlite_url, embedder="hash", extractor=None, sweep_every=None) as mem:
        assert mem.retention == Retention({"default": 120.0, "event": None})
    with Memori(sqlite_url, embedder="hash", extractor=None, sweep_every=None,
                retention={"note": 5}) as mem:
        assert mem.retention == Retention({"note": 5.0})  # the argument wins
    monkeypatch.setenv("MEMORI_RETENTION", "forever")
    with pytest.raises(ConfigurationError, match="MEMORI_RETENTION"):
        Memori(sqlite_url, embedder="hash", extractor=None)


def test_the_background_sweep_runs_off_the_callers_thread_at_a_bounded_rate(
    sqlite_url: str
) -> None:
    with Memori(sqlite_url, embedder="hash", extractor=None, sweep_every=3600) as mem:
        mem.attribution(entity_id="alice")
        mem.remember("Expired already.", expires_at=time.time() - 1)  # arms and sweeps
        mem._sweeper.wait(10)
        assert mem._sweeper.swept == 1 and mem.list_memories(include_expired=True) == []
        mem.remember("Expired too.", expires_at=time.time() - 1)
        mem._sweeper.wait(10)
        assert mem._sweeper.swept == 1, "at most one background sweep per sweep_every"
        assert len(mem.list_memories(include_expired=True)) == 1


def test_no_background_sweep_without_expiry(sqlite_url: str) -> None:
    with Memori(sqlite_url, embedder="hash", extractor=None) as mem:
        mem.remember("Forever.", entity_id="alice")
        assert not mem._sweeper.armed and mem._sweeper._thread is None


# the CLI

def test_memori_sweep_in_a_subprocess_removes_the_expired_memories(
    sqlite_url: str
) -> None:
    with Memori(sqlite_url, embedder="hash", extractor=None, sweep_every=None) as mem:
        mem.attribution(entity_id="alice")
        mem.remember("Old.", expires_at=time.time() - 10)
        kept = mem.remember("Fresh.", ttl=3600)
        mem.remember("Bob's old.", entity_id="bob", process_id="p", expires_at=1.0)
    out = cli("sweep", "--json", url=sqlite_url)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == {"swept": 2}
    with Memori(sqlite_url, embedder="hash", extractor=None, sweep_every=None) as mem:
        left = [m.id for m in mem.list_memories(entity_id="alice", include_expired=True)]
        assert left == [kept.id]
        assert mem.list_memories(entity_id="bob", process_id="p", include_expired=True) == []
    again = cli("sweep", url=sqlite_url)
    assert again.returncode == 0 and "swept 0" in again.stdout


def test_a_memory_pinned_with_the_cli_is_injected_first_by_the_next_call(
    sqlite_url: str, openai_server: OpenAIServer
) -> None:
    with Memori(sqlite_url, embedder="hash", extractor=None, sweep_every=None) as mem:
        client = mem.llm.register(openai_server.client())
        mem.attribution(entity_id="alice", process_id="coach")
        m = mem.remember("Call me Captain.")
        assert m.content not in say(client, openai_server, "Hello there")
        pinned = cli("memories", "pin", m.id, "--entity", "alice", "--persona", "coach",
                     "--json", url=sqlite_url)
        assert pinned.returncode == 0, pinned.stderr
        assert json.loads(pinned.stdout)["pinned"] is True
        block = say(client, openai_server, "Hello there")
        assert block.index(PINNED_HEADING) < block.index(m.content)
        listed = cli("memories", "list", "--entity", "alice", "--persona", "coach",
                     "--pinned", "--json", url=sqlite_url)
        assert [r["id"] for r in json.loads(listed.stdout)] == [m.id]
        unpinned = cli("memories", "unpin", m.id, "--entity", "alice", "--persona", "coach",
                       url=sqlite_url)
        assert unpinned.returncode == 0 and unpinned.stdout.strip() == m.id
        assert PINNED_HEADING not in say(client, openai_server, "Hello there")
        other = cli("memories", "pin", m.id, "--entity", "bob", url=sqlite_url)
        assert other.returncode == 3 and "Traceback" not in other.stderr


def test_cli_expiry_options(sqlite_url: str) -> None:
    made = cli("remember", "--entity", "alice", "Short lived.", "--ttl", "3600", "--pinned",
               "--json", url=sqlite_url)
    assert made.returncode == 0, made.stderr
    record = json.loads(made.stdout)
    assert record["pinned"] is True and record["expires_at"] > time.time()
    edited = cli("memories", "edit", record["id"], "--entity", "alice", "--expires", "never",
                 "--json", url=sqlite_url)
    assert edited.returncode == 0, edited.stderr
    assert json.loads(edited.stdout)["expires_at"] is None
    bad = cli("memories", "edit", record["id"], "--entity", "alice", "--expires", "soon",
              url=sqlite_url)
    assert bad.returncode == 2 and "--expires" in bad.stderr


def test_export_and_import_carry_pinned_and_expires_at(sqlite_url: str, tmp_path: Path) -> None:
    with Memori(sqlite_url, embedder="hash", extractor=None, sweep_every=None) as mem:
        m = mem.remember("Carried over.", entity_id="alice", pinned=True, ttl=3600)
    exported = cli("export", "--entity", "alice", url=sqlite_url)
    assert exported.returncode == 0, exported.stderr
    other = f"sqlite:///{tmp_path / 'other.db'}"
    path = tmp_path / "alice.jsonl"
    path.write_text(exported.stdout, encoding="utf-8")
    assert cli("import", str(path), url=other).returncode == 0
    with Memori(other, embedder="hash", extractor=None, sweep_every=None) as mem:
        got = mem.get_memory(m.id, entity_id="alice")
        assert got is not None and got.pinned and got.expires_at == m.expires_at


@pytest.mark.asyncio
async def test_async_calls_inject_pinned_and_never_expired_memories(
    mem: Memori, openai_server: OpenAIServer
) -> None:
    client = mem.llm.register(openai_server.async_client())
    try:
        mem.attribution(entity_id="alice", process_id="coach")
        rule = await mem.aremember("Keep answers under fifty words.", pinned=True)
        await mem.aremember("Old pinned rule.", pinned=True, expires_at=time.time() - 1)
        await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Tell me about rivers"}])
        block = block_of(openai_server)
        assert rule.content in block and "Old pinned rule." not in block
        mem.attribution(entity_id="alice", process_id="planner")
        await client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "Tell me about rivers"}])
        assert rule.content not in block_of(openai_server)
    finally:
        await client.close()


def test_an_agent_pins_a_memory_with_the_update_memory_tool(
    mem: Memori, client: openai.OpenAI, openai_server: OpenAIServer
) -> None:
    mem.attribution(entity_id="alice", process_id="coach")
    m = mem.remember("Training days: Tuesday and Saturday.")
    schema = next(t for t in mem.tools() if t["function"]["name"] == "update_memory")
    assert schema["function"]["parameters"]["properties"]["pinned"]["type"] == "boolean"
    result = mem.call_tool("update_memory", {"memory_id": m.id, "pinned": True})
    assert result["memory"]["pinned"] is True
    assert m.content in say(client, openai_server, "Hello")
    with pytest.raises(ToolError, match="pinned must be a boolean"):
        mem.call_tool("update_memory", {"memory_id": m.id, "pinned": "yes"})
