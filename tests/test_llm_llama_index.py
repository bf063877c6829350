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

from collections.abc import Iterator
from typing import Any

import pytest

from loopback_audit import loopback_only, run_docs_example, seed_scenario
from memori import Memori
from memori.llm.context import OPEN_TAG
from memori.testing import OpenAIServer

llama_openai = pytest.importorskip(
    "llama_index.llms.openai", reason="llama-index-llms-openai (needs openai<3)")
from llama_index.core.llms import ChatMessage  # noqa: E402

GOAL = "My goal is a sub-25 5K by June."
QUESTION = "What is my goal?"

@pytest.fixture(autouse=True)
def _offline() -> Iterator[None]:
    with loopback_only():
        yield


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
    async def ask_(persona: str, text: str) -> str:
        messages = conversation(persona, text)
        before = [m.model_copy(deep=True) for m in messages]
        reply = await ask(llm, messages, how)
        assert messages == before                            # the caller's messages
        return reply

    recorded = await seed_scenario(mem, ask_, lambda: sent(openai_server), goal=GOAL,
                                   question=QUESTION)
    assert not recorded[1].metadata.get("partial")


def test_the_docs_example_runs(capsys: pytest.CaptureFixture[str]) -> None:
    run_docs_example("llama-index", capsys, f"echo: {QUESTION}\n")
