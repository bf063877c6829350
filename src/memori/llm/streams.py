"""Streams that record the reply when they end, handing every chunk through untouched.

The wrappers subclass the openai ``Stream`` / ``AsyncStream`` (so ``isinstance``
checks and the SDK's ``.stream()`` helpers keep working) but do not run their
constructors: they wrap a stream the SDK already opened and only read each item
as it passes. The reply is recorded once, when the stream is exhausted, closed,
fails, or is dropped unread; it is marked partial unless the model said it was done.
"""

from __future__ import annotations

import weakref
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from openai import AsyncStream, Stream

from memori.llm.sink import ReplySink


def _delegate(obj: Any, name: str) -> Any:
    inner = obj.__dict__.get("_inner")
    if inner is None:
        raise AttributeError(name)
    return getattr(inner, name)


class RecordingStream(Stream[Any]):
    """A sync ``Stream`` that records the reply it carries."""

    def __init__(self, inner: Stream[Any], sink: ReplySink) -> None:
        # Stream.__init__ is not called on purpose: the inner stream is already open.
        self._inner = inner
        self._sink = sink
        self.response = inner.response
        self._options = getattr(inner, "_options", None)
        self._iterator = self._observe()
        weakref.finalize(self, sink.end).atexit = False  # dropped unread: record what came

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
        return self._iterator.__next__()

    def __iter__(self) -> Iterator[Any]:
        yield from self._iterator

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            self._sink.end()

    def __getattr__(self, name: str) -> Any:
        return _delegate(self, name)


class AsyncRecordingStream(AsyncStream[Any]):
    """An ``AsyncStream`` that records the reply it carries."""

    def __init__(self, inner: AsyncStream[Any], sink: ReplySink) -> None:
        # AsyncStream.__init__ is not called on purpose: the inner stream is already open.
        self._inner = inner
        self._sink = sink
        self.response = inner.response
        self._options = getattr(inner, "_options", None)
        self._iterator = self._observe()
        weakref.finalize(self, sink.end).atexit = False  # dropped unread: record what came

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
        return await self._iterator.__anext__()

    async def __aiter__(self) -> AsyncIterator[Any]:
        async for item in self._iterator:
            yield item

    async def close(self) -> None:
        try:
            await self._inner.close()
        finally:
            self._sink.end()

    def __getattr__(self, name: str) -> Any:
        return _delegate(self, name)


class RawStreamResponse:
    """Stands in for the raw response of a streamed ``with_raw_response`` call:
    ``parse()`` returns the recording stream; everything else is the raw response's."""

    def __init__(self, raw: Any, wrap: Callable[[Any], Any]) -> None:
        self._raw = raw
        self._wrap = wrap
        self._stream: Any = None

    def parse(self, *, to: Any = None) -> Any:
        if to is not None:
            return self._raw.parse(to=to)
        if self._stream is None:
            self._stream = self._wrap(self._raw.parse())
        return self._stream

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_raw"], name)
