"""Where a streamed reply goes: fed item by item, recorded exactly once when the stream ends.

SDK-neutral (no client import), so every client's stream wrapper shares it: the reply
is recorded when the stream is exhausted, closed, fails or is dropped unread, and is
marked partial unless the model said it was done. :class:`RecordingStreamMixin` and
:class:`AsyncRecordingStreamMixin` hold the wrapping itself; each SDK's recording stream
is a thin subclass of one of them and of that SDK's ``Stream`` / ``AsyncStream``;
:class:`RawStreamResponse` stands for the raw response of a streamed call.
"""

from __future__ import annotations

import inspect
import threading
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any, ClassVar

from memori.llm.engine import CallPlan, MemoryEngine, StreamReply


class ReplySink:
    """Feeds stream items to an accumulator and records the reply exactly once."""

    def __init__(self, engine: MemoryEngine, plan: CallPlan, reply: StreamReply) -> None:
        self._engine = engine
        self._plan = plan
        self._reply = reply
        self._lock = threading.Lock()
        self._ended = False

    def feed(self, item: Any) -> None:
        try:
            self._reply.feed(item)
        except Exception:  # an odd item must not break the caller's stream
            self._engine.counters.add("record_failures")

    def end(self, error: BaseException | None = None) -> None:
        with self._lock:
            if self._ended:
                return
            self._ended = True

        def record() -> None:
            extra: dict[str, Any] = {}
            if not self._reply.finished:
                extra["partial"] = True
            if error is not None:
                extra["error"] = type(error).__name__
            self._engine.commit_reply(self._plan, self._reply.draft(), **extra)

        self._engine.guarded("recording a streamed reply", record)


class _Recording:
    """What the sync and async recording streams share: wrapping an open stream.

    The SDK stream's constructor is not run on purpose (the inner stream is already
    open); ``ITEMS`` names the attribute the SDK's own ``Stream`` keeps its iterator in
    (openai: ``_iterator``); it holds the observing generator instead.
    """

    ITEMS: ClassVar[str] = "_iterator"
    response: Any
    _options: Any

    def __init__(self, inner: Any, sink: ReplySink) -> None:
        self._inner = inner
        self._sink = sink
        self.response = inner.response
        self._options = getattr(inner, "_options", None)
        setattr(self, self.ITEMS, self._observe())
        weakref.finalize(self, sink.end).atexit = False  # dropped unread: record what came

    def _observe(self) -> Any:
        raise NotImplementedError

    def _items(self) -> Any:
        return getattr(self, self.ITEMS)

    def __getattr__(self, name: str) -> Any:
        inner = self.__dict__.get("_inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)


class RecordingStreamMixin(_Recording):
    """A sync stream that hands every item through and records the reply it carries."""

    def _observe(self) -> Iterator[Any]:
        try:
            for item in self._inner:
                self._sink.feed(item)
                yield item
        except Exception as e:
            self._sink.end(e)
            raise
        finally:
            self._sink.end()

    def __next__(self) -> Any:
        return self._items().__next__()

    def __iter__(self) -> Iterator[Any]:
        yield from self._items()

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._sink.end()


class AsyncRecordingStreamMixin(_Recording):
    """An async stream that hands every item through and records the reply it carries."""

    async def _observe(self) -> AsyncIterator[Any]:
        try:
            async for item in self._inner:
                self._sink.feed(item)
                yield item
        except Exception as e:
            self._sink.end(e)
            raise
        finally:
            self._sink.end()

    async def __anext__(self) -> Any:
        return await self._items().__anext__()

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for item in self._items():
            yield item

    async def close(self) -> None:
        try:
            await self._inner.close()
        finally:
            self._sink.end()


class RawStreamResponse:
    """Stands in for the raw response of a streamed ``with_raw_response`` call:
    ``parse()`` returns the stream wrapped by ``wrap`` (once; later calls return the same);
    everything else is the raw response's.

    ``AWAITS_PARSE``: whether a ``parse()`` that returns an awaitable (an async SDK's) is
    awaited before wrapping; when False the awaitable itself is handed to ``wrap``.
    """

    AWAITS_PARSE: ClassVar[bool] = False

    def __init__(self, raw: Any, wrap: Callable[[Any], Any]) -> None:
        self._raw = raw
        self._wrap = wrap
        self._stream: Any = None

    def parse(self, *, to: Any = None) -> Any:
        if to is not None:
            return self._raw.parse(to=to)
        if self._stream is not None:
            return self._stream
        parsed = self._raw.parse()
        if self.AWAITS_PARSE and inspect.isawaitable(parsed):
            return self._aparse(parsed)
        self._stream = self._wrap(parsed)
        return self._stream

    async def _aparse(self, parsed: Awaitable[Any]) -> Any:
        self._stream = self._wrap(await parsed)
        return self._stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_raw"], name)
