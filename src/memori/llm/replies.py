"""The reply side of a call: the model's answer as a draft, whole or accumulated from a stream.

Only the first choice of a chat completion is recorded. Tool calls go to the
metadata in the chat completions shape whichever API produced them, so the
history of a conversation reads the same for both APIs. Nothing here mutates
the objects the caller receives: chunks and events are only read.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from memori.llm.hosted_tools import tool_item_draft
from memori.llm.messages import Draft, as_mapping, content_text, tool_call

Reply = Draft | list[Draft] | None
"""A reply as drafts: the assistant's, after the tool items it holds (hosted tools)."""


def reply_meta(model: Any, response_id: Any, finish: Any, api: str) -> dict[str, Any]:
    """A reply's metadata: the API, and the model, response id and finish reason given."""
    meta: dict[str, Any] = {"api": api}
    if isinstance(model, str):
        meta["model"] = model
    if isinstance(response_id, str):
        meta["response_id"] = response_id
    if isinstance(finish, str):
        meta["finish_reason"] = finish
    return meta


def assistant_draft(text: str, calls: list[dict[str, Any]],
                    meta: dict[str, Any]) -> Draft | None:
    """The assistant's draft (tool calls into ``meta``); None when it holds nothing."""
    if not text and not calls:
        return None
    if calls:
        meta["tool_calls"] = calls
    return Draft("assistant", text, meta)


def chat_reply(completion: Any) -> Draft | None:
    """The assistant turn of a (non-streamed) chat completion; None when it holds nothing."""
    choices = getattr(completion, "choices", None) or ()
    if not choices:
        return None
    choice = choices[0]
    message = as_mapping(getattr(choice, "message", None))
    text = content_text(message.get("content")) or content_text(message.get("refusal"))
    calls = [
        tool_call(c.get("id"), as_mapping(c.get("function") or {}).get("name"),
                  as_mapping(c.get("function") or {}).get("arguments"))
        for c in (as_mapping(x) for x in message.get("tool_calls") or ())
    ]
    meta = reply_meta(getattr(completion, "model", None), getattr(completion, "id", None),
                      getattr(choice, "finish_reason", None), "chat")
    return assistant_draft(text, calls, meta)


def responses_reply(response: Any) -> Reply:
    """The turns of a Responses API ``Response``: a ``tool`` draft per tool item (hosted
    tools), then the assistant's; None when it holds nothing."""
    status = getattr(response, "status", None)
    meta = reply_meta(getattr(response, "model", None), getattr(response, "id", None),
                      status, "responses")
    conversation = as_mapping(getattr(response, "conversation", None)).get("id")
    if isinstance(conversation, str):
        meta["conversation_id"] = conversation
    items = [as_mapping(item) for item in getattr(response, "output", None) or ()]
    return _output_drafts(items, meta)


def _output_drafts(items: list[Mapping[str, Any]], meta: dict[str, Any]) -> Reply:
    texts: list[str] = []
    calls: list[dict[str, Any]] = []
    tools: list[Draft] = []
    ids: dict[str, Any] = {
        k: meta[k] for k in ("api", "response_id", "conversation_id") if k in meta}
    for item in items:
        kind = item.get("type")
        if kind == "message":
            texts.append(content_text(item.get("content")))
        elif kind in ("function_call", "custom_tool_call"):
            calls.append(tool_call(item.get("call_id"), item.get("name"),
                                   item.get("arguments", item.get("input"))))
        elif (tool := tool_item_draft(item)) is not None:
            tools.append(Draft("tool", tool.content, {**tool.metadata, **ids}))
    reply = assistant_draft("".join(texts), calls, meta)
    drafts = [*tools, *([reply] if reply is not None else [])]
    return drafts if len(drafts) > 1 else (drafts[0] if drafts else None)


TOOL = "tool"
"""The kind :meth:`StreamedBlocks.feed_call` gives the tool calls it gathers."""


class StreamedBlocks:
    """The pieces of a streamed reply, gathered by index: each block (a text, a tool
    call, ...) keeps its kind, a tool call's id, name and whole input, and its parts,
    joined at the end in index order. Shared by the chat and anthropic stream replies."""

    def __init__(self) -> None:
        self._blocks: dict[int, dict[str, Any]] = {}

    def start(self, index: int, kind: Any, *, call_id: Any = None, name: Any = None,
              whole_input: Any = None, first: str = "") -> None:
        """A block begins at ``index`` (replacing one there)."""
        self._blocks[index] = {"kind": kind, "id": call_id, "name": name,
                               "input": whole_input, "parts": [first]}

    def append(self, index: int, piece: str) -> None:
        """A piece of the block at ``index``; none begun there: dropped."""
        block = self._blocks.get(index)
        if block is not None:
            block["parts"].append(piece)

    def feed_call(self, index: int, call_id: Any, name: Any, arguments: Any) -> None:
        """A tool call's delta (chat completions shape): the call at ``index`` begins on
        its first delta; a given id replaces, name and argument pieces add up."""
        block = self._blocks.setdefault(
            index, {"kind": TOOL, "id": "", "name": "", "input": None, "parts": []})
        if call_id:
            block["id"] = call_id
        if name:
            block["name"] += name
        if arguments:
            block["parts"].append(arguments)

    def text(self, kind: str = "text") -> str:
        """The joined parts of the blocks of ``kind``."""
        return "".join("".join(b["parts"]) for b in self._in_order() if b["kind"] == kind)

    def calls(self, kinds: tuple[str, ...] = (TOOL,),
              arguments: Callable[[str, Any], str] | None = None) -> list[dict[str, Any]]:
        """The blocks of ``kinds`` as tool calls; ``arguments`` makes the arguments from the
        joined parts and the whole input (default: the joined parts)."""
        made: list[dict[str, Any]] = []
        for block in self._in_order():
            if block["kind"] in kinds:
                joined = "".join(block["parts"])
                args = joined if arguments is None else arguments(joined, block["input"])
                made.append(tool_call(block["id"], block["name"], args))
        return made

    def __len__(self) -> int:
        return len(self._blocks)

    def _in_order(self) -> list[dict[str, Any]]:
        return [block for _, block in sorted(self._blocks.items())]


class ChatStreamReply:
    """Accumulates chat completion chunks (choice 0) into the reply draft."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._calls = StreamedBlocks()
        self._model: Any = None
        self._id: Any = None
        self.finish_reason: str | None = None

    @property
    def finished(self) -> bool:
        """Whether the model said it was done (a finish reason arrived)."""
        return self.finish_reason is not None

    def feed(self, chunk: Any) -> None:
        if self._id is None:
            self._id = getattr(chunk, "id", None)
            self._model = getattr(chunk, "model", None)
        for choice in getattr(chunk, "choices", None) or ():
            if getattr(choice, "index", 0) != 0:
                continue
            delta = getattr(choice, "delta", None)
            if delta is not None:
                piece = getattr(delta, "content", None) or getattr(delta, "refusal", None)
                if isinstance(piece, str):
                    self._parts.append(piece)
                for call in getattr(delta, "tool_calls", None) or ():
                    self._feed_call(call)
            finish = getattr(choice, "finish_reason", None)
            if isinstance(finish, str):
                self.finish_reason = finish

    def _feed_call(self, call: Any) -> None:
        fn = getattr(call, "function", None)
        self._calls.feed_call(getattr(call, "index", 0), getattr(call, "id", None),
                              getattr(fn, "name", None), getattr(fn, "arguments", None))

    def draft(self) -> Draft | None:
        meta = reply_meta(self._model, self._id, self.finish_reason, "chat")
        return assistant_draft("".join(self._parts), self._calls.calls(), meta)


_FINAL_EVENTS = frozenset({"response.completed", "response.incomplete", "response.failed"})


class ResponsesStreamReply:
    """Accumulates Responses API stream events into the reply draft."""

    def __init__(self) -> None:
        self._final: Any = None
        self._done_items: dict[int, Any] = {}
        self._deltas: dict[int, list[str]] = {}
        self._model: Any = None
        self._id: Any = None

    @property
    def finished(self) -> bool:
        """Whether a final ``response.*`` event arrived and the response did not fail."""
        return self._final is not None and getattr(self._final, "status", None) != "failed"

    def feed(self, event: Any) -> None:
        kind = getattr(event, "type", None)
        if kind == "response.output_text.delta":
            index = getattr(event, "output_index", 0)
            self._deltas.setdefault(index, []).append(getattr(event, "delta", "") or "")
        elif kind == "response.output_item.done":
            self._done_items[getattr(event, "output_index", len(self._done_items))] = event.item
        elif kind in _FINAL_EVENTS:
            self._final = getattr(event, "response", None)
        elif kind == "response.created":
            response = getattr(event, "response", None)
            self._model = getattr(response, "model", None)
            self._id = getattr(response, "id", None)

    def draft(self) -> Reply:
        if self._final is not None:
            return responses_reply(self._final)
        items: list[Mapping[str, Any]] = []
        for index in sorted(set(self._done_items) | set(self._deltas)):
            if index in self._done_items:
                items.append(as_mapping(self._done_items[index]))
            else:
                text = "".join(self._deltas[index])
                items.append({"type": "message", "content": text})
        return _output_drafts(items, reply_meta(self._model, self._id, None, "responses"))
