"""The request side of a call: messages as plain drafts, and which of them are new.

Chat ``messages`` and Responses ``input`` items (dicts or the openai package's
pydantic objects) become :class:`Draft` values: role, text and JSON metadata
(tool calls, tool call ids, names). Only the new ones of a call are recorded:
the messages after the last assistant message the caller sent, minus those the
session already holds, so re-sending a whole conversation never stores it twice
and the first message of a new session is never dropped.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from memori.core import Turn
from memori.core.inputs import storable_text

RECORDED_ROLES = frozenset({"user", "tool", "function"})
INSTRUCTION_ROLES = frozenset({"system", "developer"})


@dataclass(frozen=True, slots=True)
class Draft:
    """One message before it becomes a :class:`~memori.core.Turn` (no scope yet)."""

    role: str
    content: str
    metadata: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # stored as every backend can hold it (NUL, lone surrogates -> U+FFFD), and
        # compared with the stored history in that form
        object.__setattr__(self, "content", storable_text(self.content))

    @property
    def key(self) -> tuple[str, str]:
        return (self.role, self.content)


def as_mapping(obj: Any) -> Mapping[str, Any]:
    """A message or item as a mapping: dicts as they are, pydantic objects dumped."""
    if isinstance(obj, Mapping):
        return obj
    dump = getattr(obj, "model_dump", None)
    if callable(dump):
        dumped = dump(exclude_none=True, warnings=False)
        if isinstance(dumped, Mapping):
            return dumped
    return {}


def content_text(content: Any) -> str:
    """The text of a message content: a string, or the text parts of a list of parts."""
    if isinstance(content, str):
        return content
    if isinstance(content, list | tuple):
        texts: list[str] = []
        for part in content:
            part_map = as_mapping(part)
            text = part_map.get("text", part_map.get("refusal"))
            if isinstance(text, str):
                texts.append(text)
        return "\n".join(texts)
    return ""


def _attachments(content: Any) -> int:
    """How many parts of a content list carry no text (images, audio, files)."""
    if not isinstance(content, list | tuple):
        return 0
    return len(content) - sum(1 for part in content if content_text([part]))


def tool_call(call_id: Any, name: Any, arguments: Any) -> dict[str, Any]:
    """One tool call in the shape kept in turn metadata (the chat completions shape)."""
    return {
        "id": str(call_id or ""),
        "type": "function",
        "function": {"name": str(name or ""), "arguments": str(arguments or "")},
    }


def _chat_tool_calls(raw: Any) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    for item in raw or ():
        call = as_mapping(item)
        fn = as_mapping(call.get("function") or call.get("custom") or {})
        arguments = fn.get("arguments", fn.get("input"))
        calls.append(tool_call(call.get("id"), fn.get("name"), arguments))
    return calls


def chat_drafts(messages: Iterable[Any]) -> list[Draft]:
    """Chat completions ``messages`` as drafts, in order."""
    drafts: list[Draft] = []
    for message in messages:
        m = as_mapping(message)
        role = m.get("role")
        if not isinstance(role, str) or not role:
            continue
        content = m.get("content")
        meta: dict[str, Any] = {}
        for name in ("name", "tool_call_id"):
            if isinstance(m.get(name), str):
                meta[name] = m[name]
        calls = _chat_tool_calls(m.get("tool_calls"))
        if calls:
            meta["tool_calls"] = calls
        legacy = as_mapping(m.get("function_call") or {})
        if legacy:
            meta["tool_calls"] = [tool_call("", legacy.get("name"), legacy.get("arguments"))]
        if n := _attachments(content):
            meta["attachments"] = n
        drafts.append(Draft(role, content_text(content), meta))
    return drafts


def responses_drafts(input_value: Any) -> list[Draft]:
    """Responses ``input`` (a string or a list of items) as drafts, in order.

    Message items keep their role; ``function_call`` items (the model's earlier
    calls) become assistant drafts with ``tool_calls``; ``function_call_output``
    items become ``tool`` drafts with ``tool_call_id``, and so do the results of the
    tools the caller ran (``shell_call_output``...); the model's tool items sent back
    (``web_search_call``, ``shell_call``...) stand for its turn. Other items are skipped.
    """
    from memori.llm.hosted_tools import (  # it imports this module
        CALLER_OUTPUTS,
        DESCRIBE,
        tool_item_draft,
    )

    if isinstance(input_value, str):
        return [Draft("user", input_value)]
    if not isinstance(input_value, list | tuple):
        return []
    drafts: list[Draft] = []
    for item in input_value:
        it = as_mapping(item)
        kind = it.get("type")
        role = it.get("role")
        if isinstance(role, str) and kind in (None, "message"):
            content = it.get("content")
            meta = {"attachments": n} if (n := _attachments(content)) else {}
            drafts.append(Draft(role, content_text(content), meta))
        elif kind in ("function_call", "custom_tool_call"):
            arguments = it.get("arguments", it.get("input"))
            call = tool_call(it.get("call_id"), it.get("name"), arguments)
            if drafts and drafts[-1].role == "assistant" and not drafts[-1].content:
                merged = [*drafts[-1].metadata.get("tool_calls", ()), call]
                drafts[-1] = Draft("assistant", "", {"tool_calls": merged})
            else:
                drafts.append(Draft("assistant", "", {"tool_calls": [call]}))
        elif kind in ("function_call_output", "custom_tool_call_output"):
            output = it.get("output")
            text = output if isinstance(output, str) else content_text(output)
            drafts.append(Draft("tool", text, {"tool_call_id": str(it.get("call_id") or "")}))
        elif kind in CALLER_OUTPUTS and (draft := tool_item_draft(it)) is not None:
            drafts.append(draft)
        elif kind in DESCRIBE:  # a tool item the model made, sent back: the model's turn
            drafts.append(Draft("assistant", "", {"tool": kind}))
    return drafts


def select_new(drafts: Sequence[Draft], history: Sequence[Turn]) -> list[Draft]:
    """The drafts of this call that the session does not hold yet.

    Candidates are the user and tool messages after the caller's last assistant
    message. A leading run of them that equals the session's trailing turns
    after its last assistant turn (a retry, or a reply that was never recorded)
    is already stored and left out.
    """
    last_assistant = max((i for i, d in enumerate(drafts) if d.role == "assistant"), default=-1)
    candidates = [d for d in drafts[last_assistant + 1 :] if d.role in RECORDED_ROLES]
    stored_tail: list[tuple[str, str]] = []
    for turn in reversed(history):
        if turn.role == "assistant":
            break
        stored_tail.append((turn.role, turn.content))
    stored_tail.reverse()
    keys = [d.key for d in candidates]
    if stored_tail and keys[: len(stored_tail)] == stored_tail:
        return candidates[len(stored_tail) :]
    return candidates


def latest_user_text(drafts: Sequence[Draft]) -> str:
    """The text of the last user message ('' when there is none): the retrieval query."""
    for draft in reversed(drafts):
        if draft.role == "user" and draft.content.strip():
            return draft.content
    return ""
