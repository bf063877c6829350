"""The wrappers installed on a client's ``create`` / ``parse`` methods, sync and async.

Each call: scope from the context, plan (history, recall, one context block) on
a copy of the request, the model call, then recording: at once for a whole
reply, when the stream ends for a streamed one, as the caller reads the body for a
``with_streaming_response`` call. On the async path the reads run
in a worker thread (or on the store's native async driver), so the event loop
never waits on storage; the recording only queues turns. What the model returns is
handed back as it came (streams wrapped to observe their chunks).
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from memori.llm.engine import RAW_RESPONSE_HEADER, Api, CallPlan, MemoryEngine
from memori.llm.sink import ReplySink
from memori.llm.stats import memory_failure
from memori.llm.streaming_response import AsyncStreamingBody, StreamingBody
from memori.llm.streams import AsyncRecordingStream, RawStreamResponse, RecordingStream

Switch = Callable[[], bool]
"""Whether the wrapper is still active (False once the client is unregistered)."""


def _raw_mode(kwargs: dict[str, Any]) -> str | None:
    """``"true"`` for ``with_raw_response``, ``"stream"`` for ``with_streaming_response``."""
    headers = kwargs.get("extra_headers")
    mode = headers.get(RAW_RESPONSE_HEADER) if isinstance(headers, dict) else None
    return mode if isinstance(mode, str) else None


def _finish(
    engine: MemoryEngine, api: Api, plan: CallPlan, result: Any, *, is_async: bool
) -> Any:
    """Record what can be recorded now; wrap streams to record when they end."""
    streamed = plan.kwargs.get("stream") is True
    mode = _raw_mode(plan.kwargs)
    raw = mode == "true"

    def wrap(stream: Any) -> Any:
        engine.commit(plan, plan.turns)
        plan.turns = []
        try:
            sink = ReplySink(engine, plan, api.stream_reply())
            cls = AsyncRecordingStream if is_async else RecordingStream
            return cls(stream, sink)
        except Exception as e:  # not a stream we know: hand it back as it came
            memory_failure(engine.counters, "record_failures", "wrapping a stream", e,
                           strict=engine.mem.strict)
            return stream

    if mode == "stream":  # with_streaming_response: the caller reads the body later
        engine.guarded("queueing turns", lambda: engine.commit_reply(plan, None))
        try:
            body = AsyncStreamingBody if is_async else StreamingBody
            return body(result, engine, plan, api, streamed=streamed, wrap=wrap)
        except Exception as e:  # hand the response back as it came
            memory_failure(engine.counters, "record_failures", "wrapping a response", e,
                           strict=engine.mem.strict)
            return result
    if streamed:
        if raw:  # the stream comes from parse(), if the caller asks for it
            engine.guarded("queueing turns", lambda: engine.commit_reply(plan, None))
            return RawStreamResponse(result, wrap)
        return wrap(result)

    def record() -> None:
        parsed = result.parse() if raw else result
        if inspect.isawaitable(parsed):  # a future SDK's async parse(): nothing to read here
            getattr(parsed, "close", lambda: None)()
            parsed = None
        engine.commit_reply(plan, api.reply(parsed))

    engine.guarded("recording a reply", record)
    return result


def sync_wrapper(
    engine: MemoryEngine, api: Api, original: Callable[..., Any], active: Switch
) -> Callable[..., Any]:
    """The memory-aware replacement of a sync ``create``/``parse``."""

    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        scope = engine.begin(args, kwargs, lazy_body=True) if active() else None
        if scope is None:
            return original(*args, **kwargs)
        plan = engine.plan(api, scope, kwargs)
        result = original(**plan.kwargs)
        return _finish(engine, api, plan, result, is_async=False)

    call.__memori_wrapper__ = True  # type: ignore[attr-defined]
    return call


def async_wrapper(
    engine: MemoryEngine, api: Api, original: Callable[..., Awaitable[Any]], active: Switch
) -> Callable[..., Awaitable[Any]]:
    """The memory-aware replacement of an async ``create``/``parse``."""

    @functools.wraps(original)
    async def call(*args: Any, **kwargs: Any) -> Any:
        scope = engine.begin(args, kwargs, lazy_body=True) if active() else None
        if scope is None:
            return await original(*args, **kwargs)
        plan = await engine.aplan(api, scope, kwargs)
        result = await original(**plan.kwargs)
        return _finish(engine, api, plan, result, is_async=True)

    call.__memori_wrapper__ = True  # type: ignore[attr-defined]
    return call
