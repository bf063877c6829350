"""LlamaIndex's OpenAI LLM (llama-index-llms-openai) on registered clients, against the loopback
stand-in: the seed scenario through ``chat``, ``achat``, ``stream_chat`` and ``astream_chat``.

llama-index-llms-openai pins ``openai<3``, so it cannot be installed beside the openai 3 of
memori's own test environment and these tests skip there. memori supports openai from 1.40
on; run them where LlamaIndex's openai is installed, e.g. a virtualenv with
``pip install -e '.[openai]' pytest pytest-asyncio llama-index-llms-openai`` (docs/llm.md,
"Frameworks"). An audit hook checks that every connection made and every name resolved during
these tests is loopback.
"""

from __future__ import annotations

import ipaddress
import re
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from memori import Memori
from memori.core import Scope
from memori.llm.context import OPEN_TAG
from memori.testing import OpenAIServer

llama_openai = pytest.importorskip(
    "llama_index.llms.openai", reason="llama-index-llms-openai (needs openai<3)")
from llama_index.core.llms import ChatMessage  # noqa: E402

GOAL = "My goal is a sub-25 5K by June."
QUESTION = "What is my goal?"

_WATCH: list[list[str]] = []
"""While a test runs: the hosts connected to or looked up."""


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if not _WATCH:
        return
    if event == "socket.connect" and isinstance(args[1], tuple):
        _WATCH[-1].append(str(args[1][0]))
    elif event in ("socket.getaddrinfo", "socket.gethostbyname"):
        _WATCH[-1].append(str(args[0]))


sys.addaudithook(_audit)  # stays for the process: it only watches while asked


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def _offline() -> Iterator[None]:
    hosts: list[str] = []
    _WATCH.append(hosts)
    try:
        yield
    finally:
        _WATCH.remove(hosts)
    assert hosts and all(_loopback(h) for h in hosts), hosts


@pytest.fixture
def llm(mem: Memori, openai_server: OpenAIServer) -> Iterator[Any]:
    client = mem.llm.register(openai_server.client())
    aclient = mem.llm.register(openai_server.async_client())
    yield llama_openai.OpenAI(model="gpt-4o-mini", openai_client=client,
                              async_openai_client=aclient)
    client.close()


async def ask(llm: Any, messages: list[ChatMessage], how: str) -> str:
    """The reply's text, through one of the LLM's four ways of chatting."""
    if how == "chat":
        return str(llm.chat(messages).message.content)
    if how == "achat":
        return str((await llm.achat(messages)).message.content)
    if how == "stream_chat":
        return "".join(r.delta or "" for r in llm.stream_chat(messages))
    return "".join([r.delta or "" async for r in await llm.astream_chat(messages)])


def conversation(persona: str, text: str) -> list[ChatMessage]:
    return [ChatMessage(role="system", content=f"You are a {persona}."),
            ChatMessage(role="user", content=text)]


def sent(server: OpenAIServer) -> str:
    text = str(server.last_request("chat").messages)
    return text[text.index(OPEN_TAG):] if OPEN_TAG in text else ""


@pytest.mark.parametrize("how", ["chat", "achat", "stream_chat", "astream_chat"])
async def test_goal_reaches_the_coach_and_no_one_else(
    mem: Memori, llm: Any, openai_server: OpenAIServer, how: str
) -> None:
    mem.attribution(entity_id="ana", process_id="coach", session_id="week-1")
    first = conversation("running coach", GOAL)
    before = [m.model_copy(deep=True) for m in first]
    assert await ask(llm, first, how) == f"echo: {GOAL}"
    assert first == before                                   # the caller's messages
    assert await mem.aflush()
    recorded = mem.store.list_turns(Scope("ana", "coach"))
    assert [(t.role, t.content) for t in recorded] == [
        ("user", GOAL), ("assistant", f"echo: {GOAL}")]
    assert not recorded[1].metadata.get("partial")

    mem.attribution(entity_id="ana", process_id="coach", session_id="week-2")
    question = conversation("running coach", QUESTION)
    before = [m.model_copy(deep=True) for m in question]
    assert await ask(llm, question, how) == f"echo: {QUESTION}"
    assert "sub-25 5K" in sent(openai_server)
    assert question == before

    mem.attribution(entity_id="ana", process_id="planner", session_id="p-1")
    await ask(llm, conversation("meal planner", QUESTION), how)
    assert "sub-25" not in sent(openai_server)
    mem.attribution(entity_id="bob", process_id="coach", session_id="b-1")
    await ask(llm, conversation("running coach", QUESTION), how)
    assert "sub-25" not in sent(openai_server)
    assert mem.llm.stats.passthrough == 0


def test_the_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    text = (Path(__file__).parent.parent / "docs" / "llm.md").read_text()
    block = re.search(r"```python\n(# runnable: llama-index\n.*?)```", text, re.S)
    assert block is not None
    exec(compile(block.group(1), "docs/llm.md", "exec"), {})
    assert capsys.readouterr().out == f"echo: {QUESTION}\n"
