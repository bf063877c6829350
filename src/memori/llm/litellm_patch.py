"""Memory on the ``litellm`` module: ``litellm.completion`` and ``litellm.acompletion``.

LiteLLM speaks the chat completions shape whatever the provider behind it, so its
calls go through the same chat adapter as openai's (one system message with the block,
``choices[0]`` recorded, tool calls in metadata). The two module functions are replaced
(and put back by ``unregister``); the callback API is not used, as it cannot change
the messages a call sends. Code that did ``from litellm import completion`` before
registering keeps the unpatched function: call ``litellm.completion(...)``.

A call made by litellm itself while an intercepted call runs (a fallback, a router
retry) passes through, so one call never gets two blocks or records twice.
"""

from __future__ import annotations

import contextvars
import functools
import weakref
from collections.abc import Callable
from typing import Any

from litellm import CustomStreamWrapper

from memori.llm.chat import LITELLM_CHAT
from memori.llm.engine import CallPlan, MemoryEngine
from memori.llm.sink import ReplySink
from memori.llm.stats import memory_failure

FUNCTIONS = ("completion", "acompletion")
POSITIONAL = ("model", "messages")
Switch = Callable[[], bool]

_inside: contextvars.ContextVar[bool] = contextvars.ContextVar("memori_litellm_call",
                                                                default=False)


class RecordingStreamWrapper(CustomStreamWrapper):  # type: ignore[misc]
    """A ``CustomStreamWrapper`` (sync and async) that records the reply it carries.

    Its constructor is not run: it wraps a stream litellm already opened, hands each
    chunk through and delegates every other attribute to it.
    """

    def __init__(self, inner: CustomStreamWrapper, sink: ReplySink) -> None:
        self._inner = inner
        self._sink = sink
        weakref.finalize(self, sink.end).atexit = False  # dropped unread: record what came

    def __iter__(self) -> Any:
        return self

    def __next__(self) -> Any:
        try:
            chunk = next(self._inner)
        except StopIteration:
            self._sink.end()
            raise
        except Exception as e:
            self._sink.end(e)
            raise
        self._sink.feed(chunk)
        return chunk

    def __aiter__(self) -> Any:
        return self

    async def __anext__(self) -> Any:
        try:
            chunk = await self._inner.__anext__()
        except StopAsyncIteration:
            self._sink.end()
            raise
        except Exception as e:
            self._sink.end(e)
            raise
        self._sink.feed(chunk)
        return chunk

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._sink.end()

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            self._sink.end()

    def __del__(self) -> None:
        """The inner stream cleans up after itself."""

    def __getattr__(self, name: str) -> Any:
        inner = self.__dict__.get("_inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)


def _keywords(args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any] | None:
    """``completion(model, messages, ...)`` as keywords; None for calls left alone."""
    if len(args) > len(POSITIONAL) or kwargs.get("acompletion") is True:
        return None
    return {**dict(zip(POSITIONAL, args, strict=False)), **kwargs}


def _finish(engine: MemoryEngine, plan: CallPlan, result: Any) -> Any:
    if isinstance(result, CustomStreamWrapper):
        engine.commit(plan, plan.turns)
        plan.turns = []
        try:
            sink = ReplySink(engine, plan, LITELLM_CHAT.stream_reply())
            return RecordingStreamWrapper(result, sink)
        except Exception as e:  # hand the stream back as it came
            memory_failure(engine.counters, "record_failures", "wrapping a stream", e,
                           strict=engine.mem.strict)
            return result
    engine.guarded("recording a reply",
                   lambda: engine.commit_reply(plan, LITELLM_CHAT.reply(result)))
    return result


def _sync(engine: MemoryEngine, original: Callable[..., Any], active: Switch) -> Any:
    @functools.wraps(original)
    def completion(*args: Any, **kwargs: Any) -> Any:
        keywords = None if _inside.get() or not active() else _keywords(args, kwargs)
        scope = None if keywords is None else engine.begin((), keywords)
        if keywords is None or scope is None:
            return original(*args, **kwargs)
        plan = engine.plan(LITELLM_CHAT, scope, keywords)
        token = _inside.set(True)
        try:
            result = original(**plan.kwargs)
        finally:
            _inside.reset(token)
        return _finish(engine, plan, result)

    completion.__memori_wrapper__ = True  # type: ignore[attr-defined]
    return completion


def _async(engine: MemoryEngine, original: Callable[..., Any], active: Switch) -> Any:
    @functools.wraps(original)
    async def acompletion(*args: Any, **kwargs: Any) -> Any:
        keywords = None if _inside.get() or not active() else _keywords(args, kwargs)
        scope = None if keywords is None else engine.begin((), keywords)
        if keywords is None or scope is None:
            return await original(*args, **kwargs)
        plan = await engine.aplan(LITELLM_CHAT, scope, keywords)
        token = _inside.set(True)
        try:
            result = await original(**plan.kwargs)
        finally:
            _inside.reset(token)
        return _finish(engine, plan, result)

    acompletion.__memori_wrapper__ = True  # type: ignore[attr-defined]
    return acompletion


class LiteLLMPatch:
    """``litellm.completion`` / ``acompletion`` replaced on the module, and put back."""

    def __init__(self, module: Any, engine: MemoryEngine,
                 on_copy: Callable[[Any], None] | None = None) -> None:
        self._module = module
        self._engine = engine
        self.active = False
        self._originals: dict[str, Any] = {}
        self._wrappers: dict[str, Any] = {}

    def is_active(self) -> bool:
        return self.active

    def install(self) -> None:
        self.active = True
        makers = {"completion": _sync, "acompletion": _async}
        for name in FUNCTIONS:
            original = getattr(self._module, name, None)
            if callable(original):
                self._originals[name] = original
                self._wrappers[name] = makers[name](self._engine, original, self.is_active)
                setattr(self._module, name, self._wrappers[name])

    def remove(self) -> None:
        """Put the functions back; one someone else replaced since stays theirs (inert)."""
        self.active = False
        for name, wrapper in self._wrappers.items():
            if getattr(self._module, name, None) is wrapper:
                setattr(self._module, name, self._originals[name])
        self._wrappers.clear()
        self._originals.clear()

