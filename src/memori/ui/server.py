"""The HTTP server: the standard library's, bound to 127.0.0.1 unless told otherwise."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import quote

from memori.ui.auth import Token
from memori.ui.routing import Request, Response

log = logging.getLogger(__name__)

LOOPBACK = "127.0.0.1"
MAX_BODY = 1 << 20
SECURITY_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
                               "form-action 'self'; frame-ancestors 'none'",
}


class UIServer:
    """The inspector on ``host:port`` (port 0: a free one) for the given ``Memori``.

    Requests are answered one at a time (one ``Memori``, one store connection),
    in threads so an idle browser connection never blocks the others.
    """

    def __init__(self, mem: Any, *, host: str = LOOPBACK, port: int = 0,
                 token: str | None = None,
                 report: Callable[[], Mapping[str, Any]] | None = None) -> None:
        """``report``: the write path's summary the pipeline page shows (``memori stats``'
        ``pipeline.*`` keys; the CLI passes it, with the local journal's set-aside turns)."""
        from memori.ui.app import App

        self.token = Token(token)
        self.app = App(mem, self.token, report)
        lock = threading.Lock()
        app = self.app

        class Handler(BaseHTTPRequestHandler):
            server_version = "memori-ui"

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, MAX_BODY)) if length else b""
                request = Request.parse(method, self.path, body,
                                        self.headers.get("Cookie") or "")
                with lock:
                    try:
                        response = app.handle(request)
                    except Exception:
                        log.exception("memori ui: %s %s failed", method, request.path)
                        response = Response("<h1>Internal error</h1><p>See the server's "
                                            "log.</p>", 500)
                self._send(response)

            def _send(self, response: Response) -> None:
                data = response.body.encode("utf-8")
                self.send_response(response.status)
                self.send_header("Content-Type", response.content_type)
                self.send_header("Content-Length", str(len(data)))
                for name, value in {**SECURITY_HEADERS, **response.headers}.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: Any) -> None:
                log.debug("memori ui: " + format, *args)

        self.httpd = ThreadingHTTPServer((host, port), Handler)
        self.httpd.daemon_threads = True
        self.host = host
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self.httpd.server_address[1])

    @property
    def url(self) -> str:
        """The address to open, token included."""
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}/?token={quote(self.token.value)}"

    def serve_forever(self) -> None:
        self.httpd.serve_forever()

    def start(self) -> UIServer:
        """Serve in a background thread (tests, embedding)."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, name="memori-ui",
                                        daemon=True)
        self._thread.start()
        return self

    def stop_listening(self) -> None:
        """Close the socket (after :meth:`serve_forever` returned)."""
        self.httpd.server_close()

    def stop(self) -> None:
        """Stop a server :meth:`start` started."""
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
