"""Memory on an ``anthropic.Anthropic`` / ``AsyncAnthropic`` instance, and off again.

``messages.create`` (streamed or not), ``messages.parse`` and ``messages.stream(...)``
are replaced on the client's own ``messages`` and ``beta.messages`` resources (never on
the anthropic classes, so other clients stay untouched). Each call reads the scope from the context,
plans with the shared engine (one budgeted block in ``system``), calls the model with
the copied arguments and records the new turns and the reply, failing open. The SDK's
cached ``with_raw_response`` / ``with_streaming_response`` helpers are dropped so they
are rebuilt around the wrappers; ``copy()`` / ``with_options()`` copies are registered.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import anthropic

from memori.llm.anthropic_messages import ANTHROPIC_MESSAGES
from memori.llm.anthropic_streams import (
    AsyncStreamManager,
    RawStreamResponse,
    StreamManager,
    recording,
)
from memori.llm.engine import RAW_RESPONSE_HEADER, Api, CallPlan, MemoryEngine
from memori.llm.instance_patch import CACHED_HELPERS, InstancePatch

RESOURCES: tuple[tuple[str, ...], ...] = (("messages",), ("beta", "messages"))
CALL_METHODS = ("create", "parse")
Switch = Callable[[], bool]


def is_anthropic(client: Any) -> bool:
    """``Anthropic`` and ``AsyncAnthropic`` and their subclasses."""
    return isinstance(client, anthropic.Anthropic | anthropic.AsyncAnthropic)


def _resolve(root: Any, path: tuple[str, ...]) -> Any:
    obj = root
    for name in path:
        obj = getattr(obj, name, None)
        if obj is None:
            return None
    return obj


def _is_raw(kwargs: dict[str, Any]) -> bool:
    headers = kwargs.get("extra_headers")
    return isinstance(headers, dict) and headers.get(RAW_RESPONSE_HEADER) == "raw"


def _finish(engine: MemoryEngine, api: Api, plan: CallPlan, result: Any,
            message: Any = None) -> Any:
    """Record a whole reply now (``message``: a raw response's parsed message); wrap a
    stream to record its reply when it ends."""
    if plan.kwargs.get("stream") is True:
        if _is_raw(plan.kwargs):  # the caller parses the raw response into a stream later
            engine.guarded("queueing turns", lambda: engine.commit_reply(plan, None))
            return RawStreamResponse(result, lambda stream: recording(engine, api, plan, stream))
        return recording(engine, api, plan, result)
    reply = message if _is_raw(plan.kwargs) else result
    engine.guarded("recording a reply", lambda: engine.commit_reply(plan, api.reply(reply)))
    return result


def _parsed(plan: CallPlan, result: Any) -> Any:
    """A non-streamed raw response's message (sync SDK), else None."""
    if not _is_raw(plan.kwargs) or plan.kwargs.get("stream") is True:
        return None
    try:
        return result.parse()
    except Exception:  # the caller's own parse() raises it again
        return None


async def _aparsed(plan: CallPlan, result: Any) -> Any:
    """:func:`_parsed` for the async SDK, whose ``parse()`` is awaited."""
    parsed = _parsed(plan, result)
    if not inspect.isawaitable(parsed):
        return parsed
    try:
        return await parsed
    except Exception:
        return None


def _sync_call(engine: MemoryEngine, api: Api, original: Callable[..., Any],
               active: Switch) -> Callable[..., Any]:
    @functools.wraps(original)
    def call(*args: Any, **kwargs: Any) -> Any:
        scope = engine.begin(args, kwargs) if active() else None
        if scope is None:
            return original(*args, **kwargs)
        plan = engine.plan(api, scope, kwargs)
        result = original(**plan.kwargs)
        return _finish(engine, api, plan, result, _parsed(plan, result))

    call.__memori_wrapper__ = True  # type: ignore[attr-defined]
    return call


def _async_call(engine: MemoryEngine, api: Api, original: Callable[..., Any],
                active: Switch) -> Callable[..., Any]:
    @functools.wraps(original)
    async def call(*args: Any, **kwargs: Any) -> Any:
        scope = engine.begin(args, kwargs) if active() else None
        if scope is None:
            return await original(*args, **kwargs)
        plan = await engine.aplan(api, scope, kwargs)
        result = await original(**plan.kwargs)
        return _finish(engine, api, plan, result, await _aparsed(plan, result))

    call.__memori_wrapper__ = True  # type: ignore[attr-defined]
    return call


def _stream_helper(engine: MemoryEngine, api: Api, original: Callable[..., Any],
                   active: Switch, *, is_async: bool) -> Callable[..., Any]:
    """``messages.stream(...)``: the scope is taken at the call, the plan on entering."""

    @functools.wraps(original)
    def stream(*args: Any, **kwargs: Any) -> Any:
        scope = engine.begin(args, kwargs) if active() else None
        if scope is None:
            return original(*args, **kwargs)
        if is_async:
            return AsyncStreamManager(engine, api, lambda: engine.aplan(api, scope, kwargs),
                                      original)
        return StreamManager(engine, api, lambda: engine.plan(api, scope, kwargs), original)

    stream.__memori_wrapper__ = True  # type: ignore[attr-defined]
    return stream


class AnthropicPatch(InstancePatch):
    """The wrappers installed on one Anthropic client and what they replaced."""

    def install(self) -> None:
        self.active = True
        is_async = isinstance(self._client, anthropic.AsyncAnthropic)
        api = ANTHROPIC_MESSAGES
        make = _async_call if is_async else _sync_call
        for path in RESOURCES:
            messages = _resolve(self._client, path)
            if messages is None:
                continue
            for name in CALL_METHODS:
                original = getattr(messages, name, None)
                if callable(original):
                    self._set(messages, name, make(self._engine, api, original, self.is_active))
            original_stream = getattr(messages, "stream", None)
            if callable(original_stream):
                self._set(messages, "stream", _stream_helper(
                    self._engine, api, original_stream, self.is_active, is_async=is_async))
        self._wrap_copies()
        self._drop_cached_helpers()

    def _drop_cached_helpers(self) -> None:
        beta = self._client.__dict__.get("beta")
        holders = (self._client, self._client.__dict__.get("messages"), beta,
                   getattr(beta, "__dict__", {}).get("messages"))
        for holder in holders:
            if holder is not None:
                for name in CACHED_HELPERS:
                    holder.__dict__.pop(name, None)
