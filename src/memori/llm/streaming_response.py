"""The response of a ``with_streaming_response`` call: its body read lazily, recorded as read.

``client.responses.with_streaming_response.create(...)`` (and the chat
completions one) hands the caller an open HTTP response to read in its own time:
``parse()`` (a whole reply, or a stream for ``stream=True``), ``read()`` /
``text()`` / ``json()``, or ``iter_bytes()`` / ``iter_text()`` / ``iter_lines()``.
Whichever the caller uses, the reply is recorded from what it read: a whole
reply once read, a streamed one when it ends, or marked partial when the
response is closed before the end (leaving the ``with`` block does that). The
caller's new messages are recorded when the call is made. Everything else is the
SDK's response, unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

from memori.llm.engine import Api, CallPlan, MemoryEngine
from memori.llm.sink import ReplySink
from memori.llm.stats import memory_failure
from memori.llm.wire_body import BodyTap


class _Body:
    """What the sync and async bodies share: the recording side."""

    def __init__(
        self, raw: Any, engine: MemoryEngine, plan: CallPlan, api: Api, *,
        streamed: bool, wrap: Callable[[Any], Any],
    ) -> None:
        self._raw = raw
        self._engine = engine
        self._plan = plan
        self._api = api
        self._streamed = streamed
        self._wrap = wrap
        self._stream: Any = None
        self._sink: ReplySink | None = None
        self._recorded = False

    def _tap(self) -> BodyTap | None:
        """A tap on the raw body (events to a sink of their own for a stream); None
        when memory cannot read it (the caller reads on, unrecorded)."""
        try:
            if not self._streamed:
                return BodyTap(None)
            self._sink = ReplySink(self._engine, self._plan, self._api.stream_reply())
            return BodyTap(self._sink.feed)
        except Exception as e:
            memory_failure(self._engine.counters, "record_failures", "reading a body", e,
                           strict=self._engine.mem.strict)
            return None

    def _record(self, parsed: Any) -> None:
        """Record a whole reply once (the first read that yields it)."""
        if self._recorded or parsed is None:
            return
        self._recorded = True
        self._engine.guarded(
            "recording a reply", lambda: self._engine.commit_reply(self._plan,
                                                                   self._api.reply(parsed)))

    def _tapped(self, tap: BodyTap, completed: bool) -> None:
        """The caller stopped reading the raw body (``completed``: to its end)."""
        tap.finish()
        if self._sink is not None:
            self._sink.end()
        elif completed:
            self._record(tap.document())

    def _end(self) -> None:
        """The response is closed: a stream not read to its end is recorded as partial."""
        if self._sink is not None:
            self._sink.end()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.__dict__["_raw"], name)


class StreamingBody(_Body):
    """A sync ``APIResponse`` of a ``with_streaming_response`` call, recording as read."""

    def parse(self, *, to: Any = None) -> Any:
        if to is not None:
            return self._raw.parse(to=to)
        if self._streamed:
            if self._stream is None:
                self._stream = self._wrap(self._raw.parse())
            return self._stream
        parsed = self._raw.parse()
        self._record(parsed)
        return parsed

    def read(self) -> bytes:
        data = self._raw.read()
        self._after_read()
        return data  # type: ignore[no-any-return]

    def text(self) -> str:
        text = self._raw.text()
        self._after_read()
        return text  # type: ignore[no-any-return]

    def json(self) -> object:
        value = self._raw.json()
        self._after_read()
        return value

    def _after_read(self) -> None:
        if not self._streamed and not self._recorded:
            self._engine.guarded("reading a reply", lambda: self._record(self._raw.parse()))

    def iter_bytes(self, chunk_size: int | None = None) -> Iterator[bytes]:
        return self._iterate(self._raw.iter_bytes(chunk_size), "bytes")

    def iter_text(self, chunk_size: int | None = None) -> Iterator[str]:
        return self._iterate(self._raw.iter_text(chunk_size), "text")

    def iter_lines(self) -> Iterator[str]:
        return self._iterate(self._raw.iter_lines(), "line")

    def _iterate(self, source: Iterator[Any], kind: str) -> Iterator[Any]:
        tap = self._tap()
        if tap is None:
            yield from source
            return
        feed = tap.feeder(kind)
        completed = False
        try:
            for chunk in source:
                self._engine.guarded("reading a streamed reply", functools.partial(feed, chunk))
                yield chunk
            completed = True
        finally:
            self._engine.guarded("recording a streamed reply",
                                 lambda: self._tapped(tap, completed))

    def close(self) -> None:
        try:
            if self._stream is not None:
                self._stream.close()
            self._raw.close()
        finally:
            self._end()


class AsyncStreamingBody(_Body):
    """An ``AsyncAPIResponse`` of a ``with_streaming_response`` call, recording as read."""

    async def parse(self, *, to: Any = None) -> Any:
        if to is not None:
            return await self._raw.parse(to=to)
        if self._streamed:
            if self._stream is None:
                self._stream = self._wrap(await self._raw.parse())
            return self._stream
        parsed = await self._raw.parse()
        self._record(parsed)
        return parsed

    async def read(self) -> bytes:
        data = await self._raw.read()
        await self._after_read()
        return data  # type: ignore[no-any-return]

    async def text(self) -> str:
        text = await self._raw.text()
        await self._after_read()
        return text  # type: ignore[no-any-return]

    async def json(self) -> object:
        value = await self._raw.json()
        await self._after_read()
        return value

    async def _after_read(self) -> None:
        if self._streamed or self._recorded:
            return
        try:
            parsed = await self._raw.parse()
        except Exception as e:
            memory_failure(self._engine.counters, "record_failures", "reading a reply", e,
                           strict=self._engine.mem.strict)
            return
        self._record(parsed)

    def iter_bytes(self, chunk_size: int | None = None) -> AsyncIterator[bytes]:
        return self._iterate(self._raw.iter_bytes(chunk_size), "bytes")

    def iter_text(self, chunk_size: int | None = None) -> AsyncIterator[str]:
        return self._iterate(self._raw.iter_text(chunk_size), "text")

    def iter_lines(self) -> AsyncIterator[str]:
        return self._iterate(self._raw.iter_lines(), "line")

    async def _iterate(self, source: AsyncIterator[Any], kind: str) -> AsyncIterator[Any]:
        tap = self._tap()
        if tap is None:
            async for chunk in source:
                yield chunk
            return
        feed = tap.feeder(kind)
        completed = False
        try:
            async for chunk in source:
                self._engine.guarded("reading a streamed reply", functools.partial(feed, chunk))
                yield chunk
            completed = True
        finally:
            self._engine.guarded("recording a streamed reply",
                                 lambda: self._tapped(tap, completed))

    async def close(self) -> None:
        try:
            if self._stream is not None:
                await self._stream.close()
            await self._raw.close()
        finally:
            self._end()
