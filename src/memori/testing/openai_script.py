"""Scripted replies for the OpenAI test server: what the fake model answers, and to whom.

Tests queue `Reply` values (or plain strings) per endpoint and model, or install a responder
callable; anything unscripted falls back to the server's deterministic default reply.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from memori.core.strenum import StrEnum
from memori.testing.openai_records import RecordedRequest, content_text

__all__ = [
    "Endpoint",
    "Reply",
    "ReplyBook",
    "Responder",
    "ToolCall",
    "as_reply",
    "token_counts",
]

_WORD_PIECE = re.compile(r"\S+\s*|\s+")
_ARGUMENT_PIECE_CHARS = 16

_ERROR_TYPES: Mapping[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", None),
    404: ("invalid_request_error", "model_not_found"),
    409: ("invalid_request_error", None),
    422: ("invalid_request_error", None),
    429: ("rate_limit_exceeded", "rate_limit_exceeded"),
}


class Endpoint(StrEnum):
    """The API endpoints a reply can be scripted for."""

    CHAT = "chat"
    RESPONSES = "responses"
    EMBEDDINGS = "embeddings"


GENERATION_ENDPOINTS: tuple[Endpoint, ...] = (Endpoint.CHAT, Endpoint.RESPONSES)


@dataclass(frozen=True)
class ToolCall:
    """One tool call made by the fake model; `arguments` as a mapping is JSON-encoded,
    as a string it is sent verbatim (so it can be malformed on purpose)."""

    name: str
    arguments: str | Mapping[str, Any] = field(default_factory=dict)
    id: str | None = None

    def arguments_json(self) -> str:
        """The arguments as the wire carries them: a JSON string."""
        if isinstance(self.arguments, str):
            return self.arguments
        return json.dumps(dict(self.arguments), separators=(",", ":"))


@dataclass(frozen=True)
class Reply:
    """One scripted answer.

    `text` is the assistant content, sent verbatim; `tool_calls` makes the model call tools.
    `output_items` are Responses output items sent before the message, as they are (the
    hosted tools' calls: see `memori.testing.openai_hosted`); chat completions ignore them.
    `status` >= 400 answers with an OpenAI error body instead. `delay` is slept before the
    response starts; `chunk_delay` between streamed events. `stream_error` ends a stream
    with an in-band error after the content. Unset usage is estimated from word counts.
    """

    text: str | None = None
    tool_calls: Sequence[ToolCall] = ()
    finish_reason: str | None = None
    status: int = 200
    error_message: str | None = None
    error_type: str | None = None
    error_code: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunk_delay: float = 0.0
    chunk_size: int | None = None
    stream_error: str | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    output_items: Sequence[Mapping[str, Any]] = ()

    @classmethod
    def json(cls, value: Any, **kwargs: Any) -> Reply:
        """A reply whose content is `value` encoded as JSON (for structured outputs)."""
        return cls(text=json.dumps(value), **kwargs)

    @classmethod
    def tools(cls, *calls: ToolCall, text: str | None = None, **kwargs: Any) -> Reply:
        """A reply that calls the given tools (optionally with some text before them)."""
        return cls(text=text, tool_calls=tuple(calls), **kwargs)

    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        *,
        type: str | None = None,
        code: str | None = None,
        headers: Mapping[str, str] | None = None,
        delay: float = 0.0,
    ) -> Reply:
        """An HTTP error reply (e.g. 429, 500) carrying a proper OpenAI error body."""
        if status < 400:
            raise ValueError(f"an error reply needs a status >= 400, got {status}")
        return cls(
            status=status,
            error_message=message,
            error_type=type,
            error_code=code,
            headers=dict(headers or {}),
            delay=delay,
        )

    @property
    def is_error(self) -> bool:
        """Whether this reply is an HTTP error rather than a model answer."""
        return self.status >= 400

    def resolved_finish_reason(self) -> str:
        """The finish reason on the wire: explicit, else `tool_calls` or `stop`."""
        if self.finish_reason is not None:
            return self.finish_reason
        return "tool_calls" if self.tool_calls else "stop"

    def text_pieces(self) -> list[str]:
        """The content split into stream deltas: `chunk_size` characters, else words."""
        text = self.text or ""
        if self.chunk_size:
            return [text[i : i + self.chunk_size] for i in range(0, len(text), self.chunk_size)]
        return _WORD_PIECE.findall(text)

    def argument_pieces(self, call: ToolCall) -> list[str]:
        """A tool call's JSON arguments split into stream deltas."""
        arguments = call.arguments_json()
        size = self.chunk_size or _ARGUMENT_PIECE_CHARS
        return [arguments[i : i + size] for i in range(0, len(arguments), size)]

    def error_body(self) -> dict[str, Any]:
        """The JSON body of an error reply, shaped like the real API's."""
        default_type, default_code = _ERROR_TYPES.get(self.status, ("server_error", None))
        return {
            "error": {
                "message": self.error_message or f"scripted error {self.status}",
                "type": self.error_type or default_type,
                "param": None,
                "code": self.error_code if self.error_code is not None else default_code,
            }
        }


Responder: TypeAlias = Callable[[RecordedRequest], Reply | str | None]
"""A callable scripting replies from the request; returning None falls back to the default."""


def token_counts(reply: Reply, request: RecordedRequest) -> tuple[int, int]:
    """(prompt, completion) token counts: the reply's own, else word-count estimates."""
    prompt = reply.prompt_tokens
    if prompt is None:
        words = sum(len(content_text(m.get("content")).split()) for m in request.messages)
        prompt = max(1, words)
    completion = reply.completion_tokens
    if completion is None:
        produced = [reply.text or "", *(call.arguments_json() for call in reply.tool_calls)]
        completion = sum(len(piece.split()) for piece in produced)
    return prompt, completion


def as_reply(value: Reply | str) -> Reply:
    """Accept a plain string as shorthand for a text reply."""
    return value if isinstance(value, Reply) else Reply(text=value)


_Key: TypeAlias = tuple[Endpoint | None, str | None]
"""(endpoint, model); None endpoint means any generation endpoint, None model any model."""


class ReplyBook:
    """Thread-safe store of queued replies and responders, routed by endpoint and model.

    Lookup for a request goes from the most to the least specific slot: (endpoint, model),
    (any generation endpoint, model), (endpoint, any model), (any, any). So a test can script
    an extractor model without disturbing the chat model, and every reply is served once.
    Embeddings only ever take replies scripted for the embeddings endpoint.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._queues: dict[_Key, deque[Reply]] = {}
        self._responders: dict[_Key, Responder] = {}

    def enqueue(
        self, replies: Sequence[Reply | str], *, model: str | None, endpoint: Endpoint | None
    ) -> None:
        """Queue replies (FIFO) for `endpoint` (None: chat or responses) and `model`."""
        converted = [as_reply(reply) for reply in replies]
        with self._lock:
            self._queues.setdefault((endpoint, model), deque()).extend(converted)

    def set_responder(
        self, responder: Responder | None, *, model: str | None, endpoint: Endpoint | None
    ) -> None:
        """Install (or with None, remove) the responder for an endpoint and model slot."""
        with self._lock:
            if responder is None:
                self._responders.pop((endpoint, model), None)
            else:
                self._responders[(endpoint, model)] = responder

    def next_reply(self, endpoint: Endpoint, request: RecordedRequest) -> Reply | None:
        """The scripted reply for this request, or None when nothing is scripted for it."""
        keys = _lookup_order(endpoint, request.model)
        responder: Responder | None = None
        with self._lock:
            for key in keys:
                queue = self._queues.get(key)
                if queue:
                    return queue.popleft()
            for key in keys:
                responder = self._responders.get(key)
                if responder is not None:
                    break
        if responder is None:
            return None
        produced = responder(request)
        return None if produced is None else as_reply(produced)

    def pending(self, model: str | None = None) -> int:
        """How many queued replies are still unserved (all of them, or those for `model`)."""
        with self._lock:
            return sum(
                len(queue)
                for (_, queued_model), queue in self._queues.items()
                if model is None or queued_model == model
            )

    def clear(self) -> None:
        """Drop every queued reply and responder."""
        with self._lock:
            self._queues.clear()
            self._responders.clear()


def _lookup_order(endpoint: Endpoint, model: str | None) -> tuple[_Key, ...]:
    if endpoint not in GENERATION_ENDPOINTS:
        return ((endpoint, model), (endpoint, None))
    return ((endpoint, model), (None, model), (endpoint, None), (None, None))
