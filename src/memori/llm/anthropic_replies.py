"""Anthropic replies as drafts: a whole ``Message``, or one accumulated from its raw events.

Text blocks are joined; ``tool_use`` blocks become ``tool_calls`` in the chat
completions shape (their ``input`` as a JSON string) and the ``stop_reason`` is kept
as ``finish_reason``. Events are only read, never changed.
"""

from __future__ import annotations

import json
from typing import Any

from memori.llm.messages import Draft, as_mapping, tool_call
from memori.llm.replies import StreamedBlocks, assistant_draft, reply_meta

API = "anthropic.messages"
TOOL_BLOCKS = ("tool_use", "server_tool_use")


def tool_arguments(value: Any) -> str:
    """A tool_use ``input`` as the JSON string kept in turn metadata."""
    if isinstance(value, str):
        text = value
        try:
            value = json.loads(text) if text.strip() else {}
        except ValueError:
            return text
    try:
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    except (TypeError, ValueError):
        return str(value)


def _meta(model: Any, message_id: Any, stop_reason: Any) -> dict[str, Any]:
    return reply_meta(model, message_id, stop_reason, API)


def message_reply(message: Any) -> Draft | None:
    """The assistant turn of a (non-streamed) ``Message``; None when it holds nothing."""
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    for raw in getattr(message, "content", None) or ():
        block = as_mapping(raw)
        kind = block.get("type")
        if kind == "text" and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif kind in TOOL_BLOCKS:
            calls.append(tool_call(block.get("id"), block.get("name"),
                                   tool_arguments(block.get("input", {}))))
    meta = _meta(getattr(message, "model", None), getattr(message, "id", None),
                 getattr(message, "stop_reason", None))
    return assistant_draft("".join(texts), calls, meta)


class MessageStreamReply:
    """Accumulates raw Messages stream events (``message_start`` ... ``message_stop``)."""

    def __init__(self) -> None:
        self._blocks = StreamedBlocks()
        self._model: Any = None
        self._id: Any = None
        self.stop_reason: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the model said it was done (a ``message_delta`` with a stop reason)."""
        return self.stop_reason is not None

    def feed(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if kind == "content_block_delta":
            delta = getattr(event, "delta", None)
            if delta is None:
                return
            index = getattr(event, "index", 0)
            if getattr(delta, "type", None) == "text_delta":
                self._blocks.append(index, getattr(delta, "text", "") or "")
            elif getattr(delta, "type", None) == "input_json_delta":
                self._blocks.append(index, getattr(delta, "partial_json", "") or "")
        elif kind == "content_block_start":
            start = as_mapping(getattr(event, "content_block", None))
            self._blocks.start(getattr(event, "index", len(self._blocks)), start.get("type"),
                               call_id=start.get("id"), name=start.get("name"),
                               whole_input=start.get("input"), first=start.get("text") or "")
        elif kind == "message_delta":
            reason = getattr(getattr(event, "delta", None), "stop_reason", None)
            if isinstance(reason, str):
                self.stop_reason = reason
        elif kind == "message_start":
            message = getattr(event, "message", None)
            self._model = getattr(message, "model", None)
            self._id = getattr(message, "id", None)

    def draft(self) -> Draft | None:
        calls = self._blocks.calls(TOOL_BLOCKS, lambda joined, whole: tool_arguments(
            joined) if joined else tool_arguments(whole or {}))
        return assistant_draft(self._blocks.text(), calls,
                               _meta(self._model, self._id, self.stop_reason))
