"""The Anthropic stand-in speaks the Messages wire format: checked on the raw bytes, against
the anthropic SDK's own types (strict validation), and through the real client."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import anthropic
import pytest
from anthropic.types import Message, RawMessageStreamEvent
from pydantic import TypeAdapter

from memori.testing import Reply, ToolCall
from memori.testing.anthropic_server import AnthropicServer

EVENTS: TypeAdapter[Any] = TypeAdapter(RawMessageStreamEvent)
BODY = {"model": "claude-test", "max_tokens": 64,
        "messages": [{"role": "user", "content": "hello there"}]}


@pytest.fixture(scope="module")
def server() -> Iterator[AnthropicServer]:
    with AnthropicServer() as s:
        yield s


def post(server: AnthropicServer, body: dict[str, Any], path: str = "/v1/messages"
         ) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(server.url + path, data=json.dumps(body).encode(),
                                     headers={"content-type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def sse(raw: bytes) -> list[tuple[str, dict[str, Any]]]:
    frames = []
    for frame in raw.decode().strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in frame.splitlines())
        frames.append((lines["event"], json.loads(lines["data"])))
    return frames


def test_a_whole_message_validates_as_the_sdks_message(server: AnthropicServer) -> None:
    server.enqueue(Reply.tools(ToolCall("get_weather", {"city": "Oslo"}, id="toolu_1"),
                               text="Let me check."))
    status, headers, raw = post(server, BODY)
    assert status == 200 and headers["request-id"].startswith("req_")
    message = Message.model_validate(json.loads(raw), strict=True)
    assert message.type == "message" and message.role == "assistant"
    assert [b.type for b in message.content] == ["text", "tool_use"]
    assert message.content[1].input == {"city": "Oslo"}  # type: ignore[union-attr]
    assert message.stop_reason == "tool_use" and message.usage.output_tokens > 0


def test_a_stream_has_the_real_event_sequence(server: AnthropicServer) -> None:
    server.enqueue(Reply.tools(ToolCall("get_weather", {"city": "Oslo"}), text="one two"))
    status, headers, raw = post(server, {**BODY, "stream": True})
    assert status == 200 and headers["Content-Type"].startswith("text/event-stream")
    frames = sse(raw)
    assert all(name == data["type"] for name, data in frames)
    assert [name for name, _ in frames] == [
        "message_start", "content_block_start", "ping", "content_block_delta",
        "content_block_delta", "content_block_stop", "content_block_start",
        "content_block_delta", "content_block_delta", "content_block_stop",
        "message_delta", "message_stop"]
    start = frames[0][1]["message"]
    assert start["content"] == [] and start["stop_reason"] is None
    assert frames[6][1]["content_block"]["input"] == {}
    partial = "".join(d["delta"]["partial_json"] for n, d in frames
                      if n == "content_block_delta" and d["delta"]["type"] == "input_json_delta")
    assert json.loads(partial) == {"city": "Oslo"}
    assert frames[-2][1]["delta"]["stop_reason"] == "tool_use"
    for name, data in frames:
        if name != "ping":
            EVENTS.validate_python(data, strict=True)


def test_errors_carry_an_anthropic_error_body(server: AnthropicServer) -> None:
    server.enqueue(Reply.error(529, "Overloaded"))
    status, _, raw = post(server, BODY)
    assert status == 529
    assert json.loads(raw) == {"type": "error",
                               "error": {"type": "overloaded_error", "message": "Overloaded"}}
    status, _, raw = post(server, {"model": "claude-test", "messages": []})
    assert status == 400 and json.loads(raw)["error"]["type"] == "invalid_request_error"
    status, _, raw = post(server, BODY, path="/v1/complete")
    assert status == 404 and json.loads(raw)["error"]["type"] == "not_found_error"


def test_the_real_client_reads_replies_streams_and_errors(server: AnthropicServer) -> None:
    server.clear()
    client = server.client()
    reply = client.messages.create(**BODY)
    assert reply.content[0].text == "echo: hello there"  # type: ignore[union-attr]
    with client.messages.stream(**BODY) as stream:
        assert stream.get_final_text() == "echo: hello there"
    server.enqueue(Reply(text="half", stream_error="Overloaded"))
    with pytest.raises(anthropic.APIStatusError, match="Overloaded"):
        list(client.messages.create(**BODY, stream=True))
    server.enqueue(Reply.error(429, "slow down"))
    with pytest.raises(anthropic.RateLimitError):
        client.messages.create(**BODY)
    assert len(server.message_requests()) == 4
    assert server.last_message_request().last_user_text == "hello there"
    client.close()
