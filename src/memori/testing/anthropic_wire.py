"""Anthropic Messages wire shapes: a `message` body, its SSE event stream, and error bodies.

The stream follows the real event order: `message_start` (empty content, `stop_reason`
null), then per content block `content_block_start`, `content_block_delta` (`text_delta`
or `input_json_delta`), `content_block_stop`, with a `ping` after the first block opens;
then `message_delta` (the stop reason and output tokens) and `message_stop`. An in-band
failure is an `error` event.
"""

from __future__ import annotations

import json
from typing import Any

from memori.testing.openai_chat import SseEvent
from memori.testing.openai_records import RecordedRequest, content_text
from memori.testing.openai_script import Reply, ToolCall

__all__ = ["error_body", "message_body", "message_events", "system_text"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    529: "overloaded_error",
}


def system_text(body: dict[str, Any]) -> str:
    """The request's `system`, a string or a list of text blocks, as one string."""
    return content_text(body.get("system"))


def _tool_id(call: ToolCall, serial: int, index: int) -> str:
    return call.id or f"toolu_memori{serial}_{index}"


def _stop_reason(reply: Reply) -> str:
    if reply.finish_reason is not None:
        return reply.finish_reason
    return "tool_use" if reply.tool_calls else "end_turn"


def _usage(request: RecordedRequest, reply: Reply) -> tuple[int, int]:
    prompt = reply.prompt_tokens
    if prompt is None:
        words = len(system_text(request.json).split()) + sum(
            len(content_text(m.get("content")).split()) for m in request.messages)
        prompt = max(1, words)
    completion = reply.completion_tokens
    if completion is None:
        produced = [reply.text or "", *(c.arguments_json() for c in reply.tool_calls)]
        completion = max(1, sum(len(piece.split()) for piece in produced))
    return prompt, completion


def _usage_body(input_tokens: int, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": input_tokens,
        "cache_creation_input_tokens": 0,
        "cache_read_input_tokens": 0,
        "output_tokens": output_tokens,
        "service_tier": "standard",
    }


def _blocks(reply: Reply, serial: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    if reply.text:
        blocks.append({"type": "text", "text": reply.text})
    for index, call in enumerate(reply.tool_calls):
        arguments = json.loads(call.arguments_json()) if _is_json(call) else {}
        blocks.append({"type": "tool_use", "id": _tool_id(call, serial, index),
                       "name": call.name, "input": arguments})
    return blocks


def _is_json(call: ToolCall) -> bool:
    try:
        json.loads(call.arguments_json())
    except ValueError:
        return False
    return True


def _envelope(request: RecordedRequest, serial: int) -> dict[str, Any]:
    return {
        "id": f"msg_memori{serial}",
        "type": "message",
        "role": "assistant",
        "model": request.model or "unknown",
    }


def message_body(request: RecordedRequest, reply: Reply, serial: int) -> dict[str, Any]:
    """The non-streamed answer: a whole `message` object."""
    prompt, completion = _usage(request, reply)
    return {
        **_envelope(request, serial),
        "content": _blocks(reply, serial),
        "stop_reason": _stop_reason(reply),
        "stop_sequence": None,
        "usage": _usage_body(prompt, completion),
    }


def message_events(request: RecordedRequest, reply: Reply, serial: int) -> list[SseEvent]:
    """The streamed answer, event by event (each SSE frame names its event type)."""
    prompt, completion = _usage(request, reply)

    def event(kind: str, **data: Any) -> SseEvent:
        return kind, {"type": kind, **data}

    start = {**_envelope(request, serial), "content": [], "stop_reason": None,
             "stop_sequence": None, "usage": _usage_body(prompt, 1)}
    events = [event("message_start", message=start)]
    index = 0
    if reply.text:
        events.append(event("content_block_start", index=index,
                            content_block={"type": "text", "text": ""}))
        events.append(event("ping"))
        events.extend(
            event("content_block_delta", index=index, delta={"type": "text_delta", "text": piece})
            for piece in reply.text_pieces())
        events.append(event("content_block_stop", index=index))
        index += 1
    for position, call in enumerate(reply.tool_calls):
        block = {"type": "tool_use", "id": _tool_id(call, serial, position),
                 "name": call.name, "input": {}}
        events.append(event("content_block_start", index=index, content_block=block))
        if index == 0:
            events.append(event("ping"))
        events.extend(
            event("content_block_delta", index=index,
                  delta={"type": "input_json_delta", "partial_json": piece})
            for piece in ["", *reply.argument_pieces(call)])
        events.append(event("content_block_stop", index=index))
        index += 1
    if reply.stream_error is not None:
        events.append(event("error", error={"type": "overloaded_error",
                                            "message": reply.stream_error}))
        return events
    events.append(event("message_delta",
                        delta={"stop_reason": _stop_reason(reply), "stop_sequence": None},
                        usage={"output_tokens": completion}))
    events.append(event("message_stop"))
    return events


def error_body(status: int, message: str | None, kind: str | None = None) -> dict[str, Any]:
    """An Anthropic error body: `{"type": "error", "error": {"type", "message"}}`."""
    return {
        "type": "error",
        "error": {"type": kind or _ERROR_TYPES.get(status, "api_error"),
                  "message": message or f"scripted error {status}"},
    }
