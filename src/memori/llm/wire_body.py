"""A response body the caller reads raw (bytes, text or lines), seen as it passes.

``with_streaming_response`` lets a caller read the HTTP body itself instead of
parsing it. The recorder then reads the same bytes: a JSON body is decoded once
it is complete; a server-sent-event body is split into events as it arrives.
Decoded objects are handed out as :class:`WireObject` values, which read like the
openai package's models (``event.response.output``) so the reply accumulators
take them as they are.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable
from typing import Any


class WireObject(dict[str, Any]):
    """A JSON object whose keys read as attributes too (nested objects alike)."""

    def __getattr__(self, name: str) -> Any:
        try:
            return wire(self[name])
        except KeyError:
            raise AttributeError(name) from None


def wire(value: Any) -> Any:
    """JSON objects (in lists too) as :class:`WireObject`; other values as they are."""
    if isinstance(value, dict) and not isinstance(value, WireObject):
        return WireObject(value)
    if isinstance(value, list):
        return [wire(v) for v in value]
    return value


class BodyTap:
    """Collects what the caller reads of a body: SSE events fed on, JSON kept for the end.

    ``on_event`` receives each decoded event of an event stream; :meth:`document`
    returns the decoded JSON body of a whole (non-streamed) response.
    """

    def __init__(self, on_event: Callable[[Any], None] | None) -> None:
        self._on_event = on_event
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._pending = ""
        self._data: list[str] = []
        self._whole: list[str] = []

    def feeder(self, kind: str) -> Callable[[Any], None]:
        """The feed method for chunks of ``kind``: ``bytes``, ``text`` or ``line``."""
        feeds: dict[str, Callable[[Any], None]] = {
            "bytes": self.feed_bytes, "text": self.feed_text, "line": self.feed_line}
        return feeds[kind]

    def feed_bytes(self, chunk: bytes) -> None:
        self.feed_text(self._decoder.decode(chunk))

    def feed_text(self, text: str) -> None:
        if self._on_event is None:
            self._whole.append(text)
            return
        self._pending += text
        *lines, self._pending = self._pending.replace("\r\n", "\n").split("\n")
        for line in lines:
            self.feed_line(line)

    def feed_line(self, line: str) -> None:
        """One line of the body (``iter_lines`` yields them without their newline)."""
        if self._on_event is None:
            self._whole.append(line)
        elif not line.strip():
            self._dispatch()
        elif line.startswith("data:"):
            self._data.append(line[5:].removeprefix(" "))

    def finish(self) -> None:
        """The body ended: dispatch a last event not followed by a blank line."""
        if self._on_event is not None:
            if self._pending:
                self.feed_line(self._pending)
                self._pending = ""
            self._dispatch()

    def document(self) -> Any:
        """The whole body decoded as JSON (None when it is not JSON)."""
        try:
            return wire(json.loads("".join(self._whole)))
        except ValueError:
            return None

    def _dispatch(self) -> None:
        data = "\n".join(self._data)
        self._data = []
        if not data or data == "[DONE]" or self._on_event is None:
            return
        try:
            event = json.loads(data)
        except ValueError:
            return
        self._on_event(wire(event))
