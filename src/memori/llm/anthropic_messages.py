"""Anthropic Messages requests: ``messages`` as drafts, and the memory block in ``system``.

A user message's ``tool_result`` blocks become ``tool`` drafts (``tool_call_id`` the
``tool_use_id``), its text a ``user`` draft; an assistant message's ``tool_use`` blocks
become ``tool_calls`` in the chat completions shape, as on the openai path, so a
conversation's history reads the same whichever client recorded it.

The block goes into ``system``: appended to a string, or added as one more text block
after the caller's blocks (their ``cache_control`` marks stay where they are, so a
cached prefix stays cached). The caller's list, dicts and blocks are never changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from memori.llm.anthropic_replies import (
    TOOL_BLOCKS,
    MessageStreamReply,
    message_reply,
    tool_arguments,
)
from memori.llm.context import inject_instructions
from memori.llm.engine import Request, StreamReply
from memori.llm.messages import Draft, as_mapping, content_text, tool_call


def _blocks(content: Any) -> list[Mapping[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if isinstance(content, Iterable) and not isinstance(content, bytes | Mapping):
        return [as_mapping(block) for block in content]
    return []


def _user_drafts(blocks: list[Mapping[str, Any]]) -> list[Draft]:
    drafts: list[Draft] = []
    texts: list[str] = []
    attachments = 0
    for block in blocks:
        kind = block.get("type")
        if kind == "tool_result":
            meta: dict[str, Any] = {"tool_call_id": str(block.get("tool_use_id") or "")}
            if block.get("is_error") is True:
                meta["is_error"] = True
            drafts.append(Draft("tool", content_text(block.get("content")), meta))
        elif kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        else:
            attachments += 1
    if texts or attachments:
        meta = {"attachments": attachments} if attachments else {}
        drafts.append(Draft("user", "\n".join(texts), meta))
    return drafts


def _assistant_draft(blocks: list[Mapping[str, Any]]) -> Draft:
    texts = [b["text"] for b in blocks
             if b.get("type") == "text" and isinstance(b.get("text"), str)]
    calls = [tool_call(b.get("id"), b.get("name"), tool_arguments(b.get("input", {})))
             for b in blocks if b.get("type") in TOOL_BLOCKS]
    return Draft("assistant", "".join(texts), {"tool_calls": calls} if calls else {})


def anthropic_drafts(messages: Iterable[Any]) -> list[Draft]:
    """Anthropic ``messages`` (dicts or the SDK's objects) as drafts, in order."""
    drafts: list[Draft] = []
    for message in messages:
        m = as_mapping(message)
        role = m.get("role")
        blocks = _blocks(m.get("content"))
        if role == "user":
            drafts.extend(_user_drafts(blocks))
        elif role == "assistant":
            drafts.append(_assistant_draft(blocks))
    return drafts


def inject_system(system: Any, block: str) -> str | list[Any]:
    """``system`` with the block: appended to a string, a new last text block of a list."""
    if isinstance(system, Iterable) and not isinstance(system, str | bytes | Mapping):
        return [*system, {"type": "text", "text": block}]
    return inject_instructions(system if isinstance(system, str) else None, block)


class AnthropicMessagesApi:
    """``messages`` in, the block in ``system``, the reply's content blocks recorded."""

    name = "anthropic.messages"
    provider = "anthropic"

    def read(self, kwargs: dict[str, Any]) -> Request | None:
        messages = kwargs.get("messages")
        if not isinstance(messages, Iterable) or isinstance(messages, str | bytes | Mapping):
            return None
        copied = list(messages)  # the caller's list is never touched; iterables read once
        kwargs = {**kwargs, "messages": copied}
        system = kwargs.get("system")
        if isinstance(system, Iterable) and not isinstance(system, str | bytes | Mapping):
            kwargs["system"] = list(system)  # a one-shot iterable of blocks, read once
        return Request(kwargs, anthropic_drafts(copied))

    def inject(self, request: Request, block: str) -> dict[str, Any]:
        return {**request.kwargs, "system": inject_system(request.kwargs.get("system"), block)}

    def reply(self, result: Any) -> Draft | None:
        return message_reply(result)

    def stream_reply(self) -> StreamReply:
        return MessageStreamReply()


ANTHROPIC_MESSAGES = AnthropicMessagesApi()
