"""What the OpenAI test server saw: one immutable record per HTTP request, with text helpers."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

__all__ = ["RecordedRequest", "content_text", "input_messages", "last_user_text"]

_ENDPOINTS_BY_PATH: Mapping[str, str] = {
    "/v1/chat/completions": "chat",
    "/v1/responses": "responses",
    "/v1/embeddings": "embeddings",
}
_AZURE_PATH = re.compile(
    r"^/openai(?:/deployments/[^/]+)?(/chat/completions|/responses|/embeddings)$"
)
"""Azure OpenAI's routes: ``/openai/deployments/{deployment}/chat/completions`` and
``.../embeddings`` (the deployment stands for the model), ``/openai/responses``."""


@dataclass(frozen=True)
class RecordedRequest:
    """One request as received: header names are lower-cased, `body` is the parsed JSON
    (None when absent or not JSON), `received_at` is `time.time()` on arrival and
    `client_port` the client's TCP port (equal ports mean a reused keep-alive connection)."""

    method: str
    path: str
    query: str
    headers: Mapping[str, str]
    body: Any
    raw_body: bytes
    received_at: float
    client_port: int = 0

    @property
    def endpoint(self) -> str | None:
        """`chat`, `responses` or `embeddings` for the model endpoints (OpenAI's `/v1`
        routes or Azure OpenAI's), else None."""
        found = _ENDPOINTS_BY_PATH.get(self.path)
        if found is None:
            azure = _AZURE_PATH.match(self.path)
            if azure is not None:
                found = _ENDPOINTS_BY_PATH.get("/v1" + azure.group(1))
        return found

    @property
    def json(self) -> dict[str, Any]:
        """The body as a dict (empty when the body was not a JSON object)."""
        return self.body if isinstance(self.body, dict) else {}

    @property
    def model(self) -> str | None:
        """The `model` the request asked for."""
        model = self.json.get("model")
        return model if isinstance(model, str) else None

    @property
    def stream(self) -> bool:
        """Whether the request asked for a streamed (SSE) answer."""
        return self.json.get("stream") is True

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The conversation sent: chat `messages`, or Responses `instructions` + `input`."""
        return input_messages(self.json)

    @property
    def last_user_text(self) -> str:
        """The text of the last user message ('' when there is none)."""
        return last_user_text(self.messages)


def content_text(content: Any) -> str:
    """The plain text of a message content: a string, or the text parts of a part list."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        texts = [
            part["text"]
            for part in content
            if isinstance(part, dict) and isinstance(part.get("text"), str)
        ]
        return "\n".join(texts)
    return ""


def input_messages(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Normalise chat `messages` or Responses `instructions`/`input` to role/content dicts."""
    if "messages" in body:
        return [m for m in body.get("messages") or [] if isinstance(m, dict)]
    messages: list[dict[str, Any]] = []
    instructions = body.get("instructions")
    if isinstance(instructions, str):
        messages.append({"role": "system", "content": instructions})
    raw_input = body.get("input")
    if isinstance(raw_input, str):
        messages.append({"role": "user", "content": raw_input})
    elif isinstance(raw_input, list):
        messages.extend(item for item in raw_input if isinstance(item, dict) and "role" in item)
    return messages


def last_user_text(messages: list[dict[str, Any]]) -> str:
    """The text of the last message whose role is `user`."""
    for message in reversed(messages):
        if message.get("role") == "user":
            return content_text(message.get("content"))
    return ""
