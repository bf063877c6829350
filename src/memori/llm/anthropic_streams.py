"""Anthropic streams that record the reply when they end, handing every event through.

``messages.create(stream=True)`` returns the SDK's ``Stream`` / ``AsyncStream``; the
wrappers here subclass them (``isinstance`` checks keep working) without running their
constructors, and only read each event as it passes. ``messages.stream(...)`` returns a
manager whose ``MessageStream`` reads its raw stream lazily: on entering, the raw stream
is swapped for a recording one before the first event, so iteration, ``text_stream``,
``get_final_message()`` and ``close()`` all go through it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from anthropic import AsyncStream, Stream

from memori.llm.engine import Api, CallPlan, MemoryEngine
from memori.llm.sink import AsyncRecordingStreamMixin, RecordingStreamMixin, ReplySink
from memori.llm.sink import RawStreamResponse as SharedRawStreamResponse
from memori.llm.stats import memory_failure


class RecordingStream(RecordingStreamMixin, Stream[Any]):
    """A sync ``anthropic.Stream`` that records the reply it carries."""

    ITEMS = "_events"


class AsyncRecordingStream(AsyncRecordingStreamMixin, AsyncStream[Any]):
    """An ``anthropic.AsyncStream`` that records the reply it carries."""

    ITEMS = "_events"


def recording(engine: MemoryEngine, api: Api, plan: CallPlan, stream: Any) -> Any:
    """Queue the call's new turns now; the stream, wrapped to record the reply at its end."""
    engine.commit(plan, plan.turns)
    plan.turns = []
    try:
        sink = ReplySink(engine, plan, api.stream_reply())
        if isinstance(stream, AsyncStream):
            return AsyncRecordingStream(stream, sink)
        if isinstance(stream, Stream):
            return RecordingStream(stream, sink)
        raise TypeError(f"not an anthropic stream: {type(stream).__name__}")
    except Exception as e:  # not a stream we know: hand it back as it came
        memory_failure(engine.counters, "record_failures", "wrapping a stream", e,
                       strict=engine.mem.strict)
        return stream


class RawStreamResponse(SharedRawStreamResponse):
    """The raw response of a streamed ``with_raw_response.create`` (what LangChain's
    ``ChatAnthropic`` streams through): ``parse()`` returns the stream wrapped to record the
    reply when it ends, awaited on the async SDK; everything else is the raw response's."""

    AWAITS_PARSE = True


def _observe_helper(engine: MemoryEngine, api: Api, plan: CallPlan, message_stream: Any) -> None:
    """Swap a ``MessageStream``'s raw stream (not read yet) for a recording one."""
    raw = getattr(message_stream, "_raw_stream", None)
    try:
        if raw is None:  # an SDK that reads its stream otherwise: the turns, not the reply
            raise TypeError("no raw stream to observe")
        message_stream._raw_stream = recording(engine, api, plan, raw)
    except Exception as e:
        memory_failure(engine.counters, "record_failures", "wrapping a stream", e,
                       strict=engine.mem.strict)
        engine.guarded("queueing turns", lambda: engine.commit_reply(plan, None))


class StreamManager:
    """Stands for ``messages.stream(...)``'s manager: plans on entering, records the reply."""

    def __init__(self, engine: MemoryEngine, api: Api, open_: Callable[[], CallPlan],
                 original: Callable[..., Any]) -> None:
        self._engine = engine
        self._api = api
        self._open = open_
        self._original = original
        self._manager: Any = None

    def __enter__(self) -> Any:
        plan = self._open()
        self._manager = self._original(**plan.kwargs)
        stream = self._manager.__enter__()
        _observe_helper(self._engine, self._api, plan, stream)
        return stream

    def __exit__(self, *exc: Any) -> Any:
        if self._manager is not None:
            return self._manager.__exit__(*exc)
        return None


class AsyncStreamManager:
    """The async twin of :class:`StreamManager` (planning awaited, off the loop's thread)."""

    def __init__(self, engine: MemoryEngine, api: Api,
                 open_: Callable[[], Awaitable[CallPlan]], original: Callable[..., Any]) -> None:
        self._engine = engine
        self._api = api
        self._open = open_
        self._original = original
        self._manager: Any = None

    async def __aenter__(self) -> Any:
        plan = await self._open()
        self._manager = self._original(**plan.kwargs)
        stream = await self._manager.__aenter__()
        _observe_helper(self._engine, self._api, plan, stream)
        return stream

    async def __aexit__(self, *exc: Any) -> Any:
        if self._manager is not None:
            return await self._manager.__aexit__(*exc)
        return None
