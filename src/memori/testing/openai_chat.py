"""Chat Completions wire shapes: a `chat.completion` body and its `chat.completion.chunk` stream."""

from __future__ import annotations

from typing import Any

from memori.testing.openai_records import RecordedRequest
from memori.testing.openai_script import Reply, token_counts

__all__ = ["SseEvent", "chat_completion", "chat_completion_events"]

SseEvent = tuple[str | None, Any]
"""One server-sent event: (event name or None, JSON-able data or a raw string)."""

_FINGERPRINT = "fp_memori_test"


def chat_completion(
    request: RecordedRequest, reply: Reply, serial: int, created: int
) -> dict[str, Any]:
    """The non-streamed answer: a full `chat.completion` object."""
    message: dict[str, Any] = {
        "role": "assistant",
        "content": reply.text,
        "refusal": None,
        "annotations": [],
    }
    if reply.tool_calls:
        message["tool_calls"] = [
            {
                "id": _call_id(call.id, serial, index),
                "type": "function",
                "function": {"name": call.name, "arguments": call.arguments_json()},
            }
            for index, call in enumerate(reply.tool_calls)
        ]
    return {
        "id": f"chatcmpl-memori{serial}",
        "object": "chat.completion",
        "created": created,
        "model": request.model or "unknown",
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": reply.resolved_finish_reason(),
            }
        ],
        "usage": _usage(request, reply),
        "service_tier": "default",
        "system_fingerprint": _FINGERPRINT,
    }


def chat_completion_events(
    request: RecordedRequest, reply: Reply, serial: int, created: int
) -> list[SseEvent]:
    """The streamed answer: role, content deltas, tool-call deltas, finish, usage, [DONE]."""
    include_usage = _include_usage(request)
    envelope: dict[str, Any] = {
        "id": f"chatcmpl-memori{serial}",
        "object": "chat.completion.chunk",
        "created": created,
        "model": request.model or "unknown",
        "service_tier": "default",
        "system_fingerprint": _FINGERPRINT,
    }
    if include_usage:
        envelope["usage"] = None

    def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> SseEvent:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return None, {**envelope, "choices": [choice]}

    first: dict[str, Any] = {"role": "assistant", "content": "" if reply.text is not None else None}
    events = [chunk({**first, "refusal": None})]
    events.extend(chunk({"content": piece}) for piece in reply.text_pieces())
    for index, call in enumerate(reply.tool_calls):
        opening = {
            "index": index,
            "id": _call_id(call.id, serial, index),
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        events.append(chunk({"tool_calls": [opening]}))
        events.extend(
            chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]})
            for piece in reply.argument_pieces(call)
        )
    if reply.stream_error is not None:
        error = {"message": reply.stream_error, "type": "server_error", "param": None, "code": None}
        events.append((None, {"error": error}))
        return events
    events.append(chunk({}, reply.resolved_finish_reason()))
    if include_usage:
        events.append((None, {**envelope, "choices": [], "usage": _usage(request, reply)}))
    events.append((None, "[DONE]"))
    return events


def _include_usage(request: RecordedRequest) -> bool:
    options = request.json.get("stream_options")
    return isinstance(options, dict) and options.get("include_usage") is True


def _call_id(explicit: str | None, serial: int, index: int) -> str:
    return explicit or f"call_memori{serial}_{index}"


def _usage(request: RecordedRequest, reply: Reply) -> dict[str, Any]:
    prompt, completion = token_counts(reply, request)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": 0, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": 0,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }
