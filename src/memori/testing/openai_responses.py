"""Responses API wire shapes: a `response` object and its typed SSE event sequence."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from memori.testing.openai_chat import SseEvent
from memori.testing.openai_hosted import hosted_item_events, with_id
from memori.testing.openai_records import RecordedRequest
from memori.testing.openai_script import Reply, token_counts

__all__ = ["response_events", "response_object"]

_Emit = Callable[..., None]
"""Appends one event: `emit(type, **fields)`; the sequence number is filled in."""

_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


def response_object(
    request: RecordedRequest, reply: Reply, serial: int, created: int
) -> dict[str, Any]:
    """The non-streamed answer: a finished `response` object with its output items."""
    status, details = _final_status(reply)
    return _response(
        request,
        serial,
        created,
        status=status,
        output=[item for item, _ in _final_items(reply, serial)],
        usage=_usage(request, reply),
        incomplete_details=details,
    )


def response_events(
    request: RecordedRequest, reply: Reply, serial: int, created: int
) -> list[SseEvent]:
    """The streamed answer, in the order the API sends it: created, in_progress, per output
    item added / deltas / done, then completed (or incomplete, or error + failed)."""
    events: list[SseEvent] = []

    def emit(kind: str, **fields: Any) -> None:
        events.append((kind, {"type": kind, "sequence_number": len(events), **fields}))

    opening = _response(request, serial, created, status="in_progress", output=[], usage=None)
    emit("response.created", response=opening)
    emit("response.in_progress", response=opening)
    items = _final_items(reply, serial)
    for index, (item, pieces) in enumerate(items):
        if item["type"] == "message":
            _emit_message(emit, item, index, pieces)
        elif item["type"] == "function_call":
            _emit_function_call(emit, item, index, pieces)
        else:
            for kind, fields in hosted_item_events(item, index):
                emit(kind, **fields)
    output = [item for item, _ in items]
    if reply.stream_error is not None:
        emit("error", code="server_error", message=reply.stream_error, param=None)
        error = {"code": "server_error", "message": reply.stream_error}
        failed = _response(request, serial, created, status="failed", output=output, usage=None)
        emit("response.failed", response={**failed, "error": error})
        return events
    status, details = _final_status(reply)
    final = _response(
        request,
        serial,
        created,
        status=status,
        output=output,
        usage=_usage(request, reply),
        incomplete_details=details,
    )
    emit("response.completed" if status == "completed" else "response.incomplete", response=final)
    return events


def _emit_message(emit: _Emit, item: dict[str, Any], index: int, pieces: list[str]) -> None:
    emit(
        "response.output_item.added",
        output_index=index,
        item={**item, "status": "in_progress", "content": []},
    )
    where = {"item_id": item["id"], "output_index": index, "content_index": 0}
    emit("response.content_part.added", **where, part={**item["content"][0], "text": ""})
    for piece in pieces:
        emit("response.output_text.delta", **where, delta=piece, logprobs=[])
    emit("response.output_text.done", **where, text=item["content"][0]["text"], logprobs=[])
    emit("response.content_part.done", **where, part=item["content"][0])
    emit("response.output_item.done", output_index=index, item=item)


def _emit_function_call(emit: _Emit, item: dict[str, Any], index: int, pieces: list[str]) -> None:
    emit(
        "response.output_item.added",
        output_index=index,
        item={**item, "status": "in_progress", "arguments": ""},
    )
    where = {"item_id": item["id"], "output_index": index}
    for piece in pieces:
        emit("response.function_call_arguments.delta", **where, delta=piece)
    emit("response.function_call_arguments.done", **where, arguments=item["arguments"])
    emit("response.output_item.done", output_index=index, item=item)


def _final_items(reply: Reply, serial: int) -> list[tuple[dict[str, Any], list[str]]]:
    """Each finished output item with the deltas that stream it."""
    items: list[tuple[dict[str, Any], list[str]]] = [
        (with_id(item, serial, index), []) for index, item in enumerate(reply.output_items)]
    if reply.text or not reply.tool_calls:
        text = reply.text or ""
        part = {"type": "output_text", "text": text, "annotations": [], "logprobs": []}
        message = {
            "id": f"msg_memori{serial}",
            "type": "message",
            "role": "assistant",
            "status": "completed",
            "content": [part],
        }
        items.append((message, reply.text_pieces()))
    for index, call in enumerate(reply.tool_calls):
        function_call = {
            "id": f"fc_memori{serial}_{index}",
            "type": "function_call",
            "status": "completed",
            "call_id": call.id or f"call_memori{serial}_{index}",
            "name": call.name,
            "arguments": call.arguments_json(),
        }
        items.append((function_call, reply.argument_pieces(call)))
    return items


def _final_status(reply: Reply) -> tuple[str, dict[str, str] | None]:
    reason = _INCOMPLETE_REASONS.get(reply.finish_reason or "")
    return ("incomplete", {"reason": reason}) if reason else ("completed", None)


def _response(
    request: RecordedRequest,
    serial: int,
    created: int,
    *,
    status: str,
    output: list[dict[str, Any]],
    usage: dict[str, Any] | None,
    incomplete_details: dict[str, str] | None = None,
) -> dict[str, Any]:
    body = request.json
    return {
        "id": f"resp_memori{serial}",
        "object": "response",
        "created_at": created,
        "completed_at": created if status == "completed" else None,
        "status": status,
        "background": False,
        "error": None,
        "incomplete_details": incomplete_details,
        "instructions": body.get("instructions"),
        "max_output_tokens": body.get("max_output_tokens"),
        "metadata": body.get("metadata") or {},
        "model": request.model or "unknown",
        "output": output,
        "parallel_tool_calls": body.get("parallel_tool_calls", True),
        "previous_response_id": body.get("previous_response_id"),
        "conversation": _conversation(body.get("conversation")),
        "reasoning": {"effort": None, "summary": None},
        "service_tier": "default",
        "store": body.get("store", True),
        "temperature": body.get("temperature", 1.0),
        "text": body.get("text") or {"format": {"type": "text"}},
        "tool_choice": body.get("tool_choice", "auto"),
        "tools": body.get("tools") or [],
        "top_p": body.get("top_p", 1.0),
        "truncation": body.get("truncation", "disabled"),
        "usage": usage,
        "user": body.get("user"),
    }


def _conversation(value: Any) -> dict[str, str] | None:
    """The conversation a request names (an id, or ``{"id": ...}``), as the response has it."""
    if isinstance(value, dict):
        value = value.get("id")
    return {"id": value} if isinstance(value, str) else None


def _usage(request: RecordedRequest, reply: Reply) -> dict[str, Any]:
    prompt, completion = token_counts(reply, request)
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": prompt + completion,
    }
