"""Streams that record the reply when they end, handing every chunk through untouched.

The wrappers subclass the openai ``Stream`` / ``AsyncStream`` (so ``isinstance``
checks and the SDK's ``.stream()`` helpers keep working) but do not run their
constructors: they wrap a stream the SDK already opened and only read each item
as it passes. The reply is recorded once, when the stream is exhausted, closed,
fails, or is dropped unread; it is marked partial unless the model said it was done.
"""

from __future__ import annotations

from typing import Any

from openai import AsyncStream, Stream

from memori.llm.sink import AsyncRecordingStreamMixin, RecordingStreamMixin
from memori.llm.sink import RawStreamResponse as SharedRawStreamResponse


class RecordingStream(RecordingStreamMixin, Stream[Any]):
    """A sync ``Stream`` that records the reply it carries."""


class AsyncRecordingStream(AsyncRecordingStreamMixin, AsyncStream[Any]):
    """An ``AsyncStream`` that records the reply it carries."""


class RawStreamResponse(SharedRawStreamResponse):
    """Stands in for the raw response of a streamed ``with_raw_response`` call:
    ``parse()`` returns the recording stream; everything else is the raw response's."""
