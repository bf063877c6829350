"""An Anthropic Messages API stand-in on 127.0.0.1 for tests with the real anthropic client.

It serves `POST /v1/messages` (a whole `message`, or its SSE event stream with text and
tool_use blocks and usage), records every request and answers with scripted `Reply`
values or `echo: <last user message>`. Lifecycle, scripting and recording are the OpenAI
stand-in's (:class:`~memori.testing.OpenAIServer`); only the wire format differs.

    with AnthropicServer() as server:
        client = server.client()
        server.enqueue("Hi!")
        client.messages.create(model="claude-test", max_tokens=100, messages=[...])
        assert server.last_message_request().last_user_text == ...
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from memori.testing.anthropic_wire import error_body, message_body, message_events
from memori.testing.openai_defaults import default_text
from memori.testing.openai_http import Answer
from memori.testing.openai_records import RecordedRequest
from memori.testing.openai_script import Endpoint, Reply
from memori.testing.openai_server import OpenAIServer

if TYPE_CHECKING:
    from anthropic import Anthropic, AsyncAnthropic

__all__ = ["ANTHROPIC_MODEL", "AnthropicServer"]

ANTHROPIC_MODEL = "claude-test"
MESSAGES_PATH = "/v1/messages"


class AnthropicServer(OpenAIServer):
    """A scriptable, recording Anthropic Messages API double on an ephemeral loopback port.

    Replies are queued with :meth:`enqueue` (per model or for any) or made by a responder,
    as on the OpenAI stand-in; `Reply.tools(...)` answers with `tool_use` blocks,
    `Reply(stream_error=...)` ends a stream with an `error` event, `Reply.error(status)`
    answers with an Anthropic error body.
    """

    @property
    def base_url(self) -> str:
        """The base URL to give an Anthropic client (the SDK adds `/v1/messages`)."""
        return self.url

    def client(self, **kwargs: Any) -> Anthropic:  # type: ignore[override]
        """A real `anthropic.Anthropic` pointed here (no retries unless asked, dummy key)."""
        from anthropic import Anthropic

        return Anthropic(**self._client_kwargs(kwargs))

    def async_client(self, **kwargs: Any) -> AsyncAnthropic:  # type: ignore[override]
        """A real `anthropic.AsyncAnthropic` pointed here."""
        from anthropic import AsyncAnthropic

        return AsyncAnthropic(**self._client_kwargs(kwargs))

    def _client_kwargs(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {"base_url": self.base_url, "api_key": "sk-ant-memori-test", "max_retries": 0,
                **kwargs}

    def message_requests(self, *, model: str | None = None) -> list[RecordedRequest]:
        """Recorded `POST /v1/messages` requests, oldest first."""
        return [r for r in self.requests
                if r.path == MESSAGES_PATH and (model is None or r.model == model)]

    def last_message_request(self, *, model: str | None = None) -> RecordedRequest:
        """The latest `POST /v1/messages` request; LookupError when there is none."""
        found = self.message_requests(model=model)
        if not found:
            raise LookupError(f"no /v1/messages request recorded for model={model!r}")
        return found[-1]

    def _dispatch(self, request: RecordedRequest) -> Answer:
        self._record(request)
        serial = next(self._serials)
        headers = {"request-id": f"req_memori{serial}"}
        if request.method != "POST" or request.path != MESSAGES_PATH:
            return _error(404, f"Unknown request URL: {request.method} {request.path}",
                          headers, "not_found_error")
        if not isinstance(request.body, dict):
            return _error(400, "The request body must be a JSON object.", headers)
        missing = [k for k in ("model", "max_tokens", "messages") if k not in request.body]
        if missing:
            return _error(400, f"{missing[0]}: Field required", headers)
        reply = self._book.next_reply(Endpoint.CHAT, request) or Reply()
        headers.update(reply.headers)
        if reply.is_error:
            body = error_body(reply.status, reply.error_message, reply.error_type)
            return Answer(reply.status, body, None, headers, reply.delay)
        if reply.text is None and not reply.tool_calls:
            reply = dataclasses.replace(reply, text=default_text(request))
        if request.stream:
            events = message_events(request, reply, serial)
            return Answer(200, None, events, headers, reply.delay, reply.chunk_delay)
        return Answer(200, message_body(request, reply, serial), None, headers, reply.delay)


def _error(status: int, message: str, headers: dict[str, str],
           kind: str | None = None) -> Answer:
    return Answer(status, error_body(status, message, kind), None, headers)
