"""A multi-tenant web handler: attribution per request, threads never see each other's user.

A small WSGI app (standard library only) exposes POST /chat with a JSON body
``{"user": "...", "message": "..."}``; each request runs in its own thread
and sets the attribution for that request only, with ``with
mem.attribution(...)``. Run it, then try:

    curl -s localhost:8000/chat -d '{"user": "ann", "message": "I am a pilot."}'

Uses $OPENAI_BASE_URL when set, else memori's local stand-in server.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from openai import OpenAI

from memori import Memori

StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


def make_app(mem: Memori, client: OpenAI, model: str) -> Callable[..., Iterable[bytes]]:
    mem.llm.register(client)

    def app(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        def reply(status: str, body: dict[str, Any]) -> Iterable[bytes]:
            data = json.dumps(body).encode()
            start_response(status, [("Content-Type", "application/json"),
                                    ("Content-Length", str(len(data)))])
            return [data]

        if environ["REQUEST_METHOD"] != "POST" or environ["PATH_INFO"] != "/chat":
            return reply("404 Not Found", {"error": "POST /chat"})
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
            payload = json.loads(environ["wsgi.input"].read(size))
            user, message = payload["user"], payload["message"]
            with mem.attribution(entity_id=user, process_id="web-assistant",
                                 session_id=payload.get("session")):
                answer = client.chat.completions.create(
                    model=model, messages=[{"role": "user", "content": message}])
                session = mem.current.session_id
        except (KeyError, ValueError, TypeError) as e:
            return reply("400 Bad Request", {"error": str(e)})
        return reply("200 OK", {"reply": answer.choices[0].message.content,
                                "session": session})

    return app


def serve(port: int = 8000, url: str | None = None) -> None:
    if os.environ.get("OPENAI_BASE_URL"):
        client = OpenAI()
    else:
        from memori.testing import OpenAIServer

        client = OpenAI(base_url=OpenAIServer().start().base_url, api_key="local")
    mem = Memori(url)
    app = make_app(mem, client, os.environ.get("MEMORI_EXAMPLE_MODEL", "gpt-4o-mini"))
    with make_server("127.0.0.1", port, app, server_class=ThreadingWSGIServer,
                     handler_class=QuietHandler) as httpd:
        print(f"listening on http://127.0.0.1:{port}/chat")
        httpd.serve_forever()


if __name__ == "__main__":
    serve(int(sys.argv[1]) if len(sys.argv) > 1 else 8000)
