"""Chat completions: how memory reads, rewrites and records ``chat.completions`` calls."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from memori.llm.context import inject_chat
from memori.llm.engine import Request, StreamReply
from memori.llm.messages import Draft, chat_drafts
from memori.llm.replies import ChatStreamReply, chat_reply


class ChatApi:
    """``messages`` in, one system message injected, ``choices[0]`` recorded."""

    name = "chat"
    provider = "openai"

    def read(self, kwargs: dict[str, Any]) -> Request | None:
        messages = kwargs.get("messages")
        if not isinstance(messages, Iterable) or isinstance(messages, str | bytes | Mapping):
            return None
        copied = list(messages)  # the caller's list is never touched; iterables read once
        return Request({**kwargs, "messages": copied}, chat_drafts(copied))

    def inject(self, request: Request, block: str) -> dict[str, Any]:
        return {**request.kwargs, "messages": inject_chat(request.kwargs["messages"], block)}

    def reply(self, result: Any) -> Draft | None:
        return chat_reply(result)

    def stream_reply(self) -> StreamReply:
        return ChatStreamReply()


CHAT = ChatApi()


class LiteLLMChatApi(ChatApi):
    """The chat shape as ``litellm`` speaks it, whichever provider it routes the call to."""

    provider = "litellm"


LITELLM_CHAT = LiteLLMChatApi()
