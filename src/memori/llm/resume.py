"""Resumed Responses streams: ``responses.retrieve(id, stream=True)``, which
``responses.stream(response_id=...)`` calls, replays a response's events.

Nothing is injected (there is no request to add to) and no user turn is recorded.
The replayed reply is recorded, marked ``resumed``, in the session where the
response was recorded, when that recording was not whole (a stream cut short,
recorded ``partial``): the resumed stream completes it. A response recorded whole,
or one not made under memory in the caller's entity and persona, is passed
through: the caller may read any response of its organisation, which does not make
it part of this user's memory. Retrieving without ``stream=True`` is always passed
through, and so is ``with_raw_response`` / ``with_streaming_response`` retrieval.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from memori.core import Scope
from memori.llm.continuation import UNKNOWN, Ref
from memori.llm.engine import RAW_RESPONSE_HEADER, CallPlan, MemoryEngine, StreamReply
from memori.llm.messages import Draft
from memori.llm.responses import RESPONSES
from memori.llm.sink import ReplySink
from memori.llm.stats import memory_failure
from memori.llm.streams import AsyncRecordingStream, RecordingStream

Switch = Callable[[], bool]


class ResumedReply:
    """A Responses stream accumulator whose drafts are marked ``resumed``."""

    def __init__(self, inner: StreamReply) -> None:
        self._inner = inner

    @property
    def finished(self) -> bool:
        return self._inner.finished

    def feed(self, item: Any) -> None:
        self._inner.feed(item)

    def draft(self) -> list[Draft]:
        reply = self._inner.draft()
        drafts = [reply] if isinstance(reply, Draft) else list(reply or ())
        return [Draft(d.role, d.content, {**d.metadata, "resumed": True}) for d in drafts]


def _resumed_ref(args: Sequence[Any], kwargs: dict[str, Any]) -> Ref | None:
    """The response a streamed retrieval replays; None for any other retrieval."""
    response_id = args[0] if args else kwargs.get("response_id")
    headers = kwargs.get("extra_headers")
    raw = isinstance(headers, dict) and RAW_RESPONSE_HEADER in headers
    if kwargs.get("stream") is not True or raw or not isinstance(response_id, str):
        return None
    return ("response_id", response_id)


def _plan(engine: MemoryEngine, scope: Scope, ref: Ref, session: Any) -> CallPlan | None:
    """The plan recording the replay, or None when there is nothing to record."""
    if not isinstance(session, str) or engine.continuations.recorded_whole(scope, ref):
        engine.counters.add("passthrough")
        return None
    return CallPlan(scope.with_session(session), {})


def _wrap(engine: MemoryEngine, plan: CallPlan, stream: Any, *, is_async: bool) -> Any:
    try:
        sink = ReplySink(engine, plan, ResumedReply(RESPONSES.stream_reply()))
        return (AsyncRecordingStream if is_async else RecordingStream)(stream, sink)
    except Exception as e:  # not a stream we know: hand it back as it came
        memory_failure(engine.counters, "record_failures", "wrapping a resumed stream", e,
                       strict=engine.mem.strict)
        return stream


def sync_retrieve_wrapper(
    engine: MemoryEngine, original: Callable[..., Any], active: Switch
) -> Callable[..., Any]:
    """The memory-aware replacement of a sync ``responses.retrieve``."""

    @functools.wraps(original)
    def retrieve(*args: Any, **kwargs: Any) -> Any:
        ref = _resumed_ref(args, kwargs) if active() else None
        scope = engine.begin((), {}) if ref is not None else None
        if ref is None or scope is None:
            return original(*args, **kwargs)
        try:
            session = engine.continuations.find(scope, ref)
        except Exception as e:
            memory_failure(engine.counters, "read_failures", "finding the resumed response", e,
                           strict=engine.mem.strict)
            session = None
        plan = _plan(engine, scope, ref, session)
        result = original(*args, **kwargs)
        return result if plan is None else _wrap(engine, plan, result, is_async=False)

    retrieve.__memori_wrapper__ = True  # type: ignore[attr-defined]
    return retrieve


def async_retrieve_wrapper(
    engine: MemoryEngine, original: Callable[..., Awaitable[Any]], active: Switch
) -> Callable[..., Awaitable[Any]]:
    """The memory-aware replacement of an async ``responses.retrieve`` (store reads off
    the event loop)."""

    @functools.wraps(original)
    async def retrieve(*args: Any, **kwargs: Any) -> Any:
        ref = _resumed_ref(args, kwargs) if active() else None
        scope = engine.begin((), {}) if ref is not None else None
        if ref is None or scope is None:
            return await original(*args, **kwargs)
        session = engine.continuations.cached(scope, ref)
        if session is UNKNOWN:
            try:
                session = await asyncio.to_thread(engine.continuations.find, scope, ref)
            except Exception as e:
                memory_failure(engine.counters, "read_failures", "finding the resumed response",
                               e, strict=engine.mem.strict)
                session = None
        plan = _plan(engine, scope, ref, session)
        result = await original(*args, **kwargs)
        return result if plan is None else _wrap(engine, plan, result, is_async=True)

    retrieve.__memori_wrapper__ = True  # type: ignore[attr-defined]
    return retrieve
