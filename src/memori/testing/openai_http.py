"""HTTP/1.1 plumbing for the OpenAI test server: a keep-alive, no-Nagle request handler.

Each answer is written with as few socket writes as possible (head and body together, SSE
events coalesced when no per-chunk delay is asked for) so the server adds almost no latency.
"""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from memori.testing.openai_chat import SseEvent
from memori.testing.openai_records import RecordedRequest

__all__ = ["Answer", "Dispatcher", "LoopbackHTTPServer"]


@dataclass(frozen=True)
class Answer:
    """What to send back: a JSON body, or SSE events (streamed with chunked encoding)."""

    status: int = 200
    body: Any = None
    events: Sequence[SseEvent] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    delay: float = 0.0
    chunk_delay: float = 0.0


Dispatcher = Callable[[RecordedRequest], Answer]


class LoopbackHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server that knows its open connections, so stop() can cut them."""

    daemon_threads = True
    block_on_close = False
    request_queue_size = 128  # the default 5 resets bursts of concurrent async connections

    def __init__(self, address: tuple[str, int], dispatch: Dispatcher) -> None:
        super().__init__(address, _Handler)
        self.dispatch = dispatch
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    def track(self, connection: socket.socket, *, open_: bool) -> None:
        """Remember (or forget) a client connection."""
        with self._connections_lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def cut_connections(self) -> None:
        """Shut down every open client connection (their handler threads then exit)."""
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)


class _Handler(BaseHTTPRequestHandler):
    """Reads one request, records it through the dispatcher, writes the answer."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    server: LoopbackHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.track(self.connection, open_=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        """Stay silent: tests and benchmarks do not want a line per request on stderr."""

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_PUT(self) -> None:
        self._serve()

    def do_DELETE(self) -> None:
        self._serve()

    def do_PATCH(self) -> None:
        self._serve()

    def _serve(self) -> None:
        raw_body = self._read_body()
        path, _, query = self.path.partition("?")
        body: Any = None
        if raw_body:
            try:
                body = json.loads(raw_body)
            except ValueError:
                body = None
        request = RecordedRequest(
            method=self.command,
            path=path,
            query=query,
            headers={name.lower(): value for name, value in self.headers.items()},
            body=body,
            raw_body=raw_body,
            received_at=time.time(),
            client_port=int(self.client_address[1]),
        )
        answer = self.server.dispatch(request)
        if answer.delay > 0 and self.server.stopping.wait(answer.delay):
            self.close_connection = True
            return
        try:
            if answer.events is None:
                self._write_json(answer)
            else:
                self._write_stream(answer)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            parts = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                parts.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass
            return b"".join(parts)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _head(self, status: int, headers: Mapping[str, str]) -> bytes:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Status"
        lines = [f"HTTP/1.1 {status} {reason}"]
        lines.extend(f"{name}: {value}" for name, value in headers.items())
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _write_json(self, answer: Answer) -> None:
        payload = json.dumps(answer.body, separators=(",", ":")).encode("utf-8")
        headers = {
            "Content-Type": "application/json",
            "Content-Length": str(len(payload)),
            **answer.headers,
        }
        self.wfile.write(self._head(answer.status, headers) + payload)

    def _write_stream(self, answer: Answer) -> None:
        headers = {
            "Content-Type": "text/event-stream; charset=utf-8",
            "Cache-Control": "no-cache",
            "Transfer-Encoding": "chunked",
            **answer.headers,
        }
        head = self._head(answer.status, headers)
        frames = [_sse_frame(event, data) for event, data in answer.events or ()]
        if answer.chunk_delay <= 0:
            self.wfile.write(head + _http_chunk(b"".join(frames)) + b"0\r\n\r\n")
            return
        self.wfile.write(head)
        for index, frame in enumerate(frames):
            if index and self.server.stopping.wait(answer.chunk_delay):
                self.close_connection = True
                return
            self.wfile.write(_http_chunk(frame))
        self.wfile.write(b"0\r\n\r\n")


def _sse_frame(event: str | None, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    prefix = f"event: {event}\n" if event else ""
    return f"{prefix}data: {payload}\n\n".encode()


def _http_chunk(data: bytes) -> bytes:
    return b"%X\r\n%s\r\n" % (len(data), data) if data else b""
