"""LangChain's ``ChatOpenAI`` (langchain-openai) and ``ChatAnthropic`` (langchain-anthropic) on
registered clients, against the loopback stand-ins: the seed scenario through ``invoke``,
``ainvoke``, ``stream`` and ``astream``, with no change to LangChain.

LangSmith tracing is kept off, and an audit hook checks that every connection made and every
name resolved during these tests is loopback.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from loopback_audit import loopback_only, run_docs_example, seed_scenario
from memori import Memori
from memori.llm.context import OPEN_TAG
from memori.testing import OpenAIServer
from memori.testing.anthropic_server import ANTHROPIC_MODEL, AnthropicServer

langchain_openai = pytest.importorskip("langchain_openai")
langchain_anthropic = pytest.importorskip("langchain_anthropic")
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage  # noqa: E402

GOAL = "My goal is a sub-25 5K by June."
QUESTION = "What is my goal?"

@pytest.fixture(autouse=True)
def _offline(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("LANGCHAIN_TRACING_V2", "LANGSMITH_TRACING", "LANGCHAIN_TRACING"):
        monkeypatch.setenv(name, "false")
    with loopback_only(some=False):  # kept-alive connections add none
        yield


def _fresh_http_clients() -> None:
    """LangChain caches one httpx client per base URL for the process; an async one is bound
    to the event loop it first ran on, and each async test here has its own loop."""
    from langchain_anthropic import _client_utils as anthropic_http
    from langchain_openai.chat_models import _client_utils as openai_http

    for cached in (openai_http._cached_sync_httpx_client, openai_http._cached_async_httpx_client,
                   anthropic_http._get_default_httpx_client,
                   anthropic_http._get_default_async_httpx_client):
        cached.cache_clear()


class Framework:
    """A chat model on registered clients, and what the model last received."""

    def __init__(self, name: str, llm: Any, sent: Any) -> None:
        self.name, self.llm, self._sent = name, llm, sent

    def sent(self) -> str:
        """The memori block of the last request, '' when there was none."""
        text = str(self._sent())
        return text[text.index(OPEN_TAG):] if OPEN_TAG in text else ""


@pytest.fixture(params=["ChatOpenAI", "ChatOpenAI-responses", "ChatOpenAI-headers",
                        "ChatAnthropic"])
def framework(request: pytest.FixtureRequest, mem: Memori, openai_server: OpenAIServer,
              anthropic_server: AnthropicServer) -> Iterator[Framework]:
    _fresh_http_clients()
    if request.param.startswith("ChatOpenAI"):
        responses = request.param.endswith("responses")
        llm = langchain_openai.ChatOpenAI(  # -headers: it calls with_raw_response.create
            model="gpt-4o-mini", base_url=openai_server.base_url, api_key="sk-test",
            max_retries=0, use_responses_api=responses,
            include_response_headers=request.param.endswith("headers"))
        mem.llm.register(llm.root_client)          # the clients ChatOpenAI made
        mem.llm.register(llm.root_async_client)
        if responses:
            def sent() -> Any:
                return openai_server.last_request("responses").json.get("instructions")
        else:
            def sent() -> Any:
                return openai_server.last_request("chat").messages
        yield Framework(request.param, llm, sent)  # its http clients are LangChain's shared
        return                                     # ones: left open
    anthropic_server.clear()
    llm = langchain_anthropic.ChatAnthropic(model=ANTHROPIC_MODEL,
                                            base_url=anthropic_server.base_url,
                                            api_key="sk-ant-test", max_retries=0)
    mem.llm.register(llm._client)                  # the clients ChatAnthropic made
    mem.llm.register(llm._async_client)
    yield Framework(request.param, llm,
                    lambda: anthropic_server.last_message_request().json.get("system"))


async def ask(llm: Any, messages: list[BaseMessage], how: str) -> str:
    """The reply's text, through one of LangChain's four ways of calling a chat model."""
    if how == "invoke":
        return str(llm.invoke(messages).text)
    if how == "ainvoke":
        return str((await llm.ainvoke(messages)).text)
    if how == "stream":
        return "".join(chunk.text for chunk in llm.stream(messages))
    return "".join([chunk.text async for chunk in llm.astream(messages)])


def conversation(persona: str, text: str) -> list[BaseMessage]:
    return [SystemMessage(f"You are a {persona}."), HumanMessage(text)]


@pytest.mark.parametrize("how", ["invoke", "ainvoke", "stream", "astream"])
async def test_goal_reaches_the_coach_and_no_one_else(
    mem: Memori, framework: Framework, how: str
) -> None:
    async def ask_(persona: str, text: str) -> str:
        messages = conversation(persona, text)
        before = [m.model_copy(deep=True) for m in messages]
        reply = await ask(framework.llm, messages, how)
        assert messages == before                            # the caller's messages
        return reply

    recorded = await seed_scenario(mem, ask_, framework.sent, goal=GOAL, question=QUESTION)
    if how in ("stream", "astream"):
        assert not recorded[1].metadata.get("partial")


def test_chat_openai_given_registered_clients(mem: Memori, openai_server: OpenAIServer) -> None:
    """The other way round: registered clients handed to ChatOpenAI when it is built."""
    client = mem.llm.register(openai_server.client())
    aclient = mem.llm.register(openai_server.async_client())
    llm = langchain_openai.ChatOpenAI(
        model="gpt-4o-mini", root_client=client, client=client.chat.completions,
        root_async_client=aclient, async_client=aclient.chat.completions)
    mem.attribution(entity_id="ana", process_id="coach")
    llm.invoke(GOAL)
    mem.flush()
    mem.attribution(entity_id="ana", process_id="coach")
    llm.invoke(QUESTION)
    assert "sub-25 5K" in str(openai_server.last_request("chat").messages)
    client.close()


@pytest.mark.parametrize("runnable", ["langchain-openai", "langchain-anthropic"])
def test_the_docs_example_runs(runnable: str, capsys: pytest.CaptureFixture[str]) -> None:
    run_docs_example(runnable, capsys, f"echo: {QUESTION}\n")
