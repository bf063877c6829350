"""What the UI tests share: a UI server on a store, and plain HTTP requests to it."""

from __future__ import annotations

import http.client
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from memori.ui import UIServer


@dataclass
class Answer:
    status: int
    body: str
    headers: dict[str, str]


def request(server: UIServer, method: str, target: str, *, cookie: str | None = None,
            form: dict[str, str] | None = None) -> Answer:
    """One request to the server, no redirect followed."""
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    headers = {"Cookie": cookie} if cookie else {}
    body = None
    if form is not None:
        body = urlencode(form)
        headers["Content-Type"] = "application/x-www-form-urlencoded"
    try:
        conn.request(method, target, body=body, headers=headers)
        r = conn.getresponse()
        return Answer(r.status, r.read().decode(), dict(r.getheaders()))
    finally:
        conn.close()


def login(server: UIServer) -> str:
    """The cookie the token URL sets."""
    parts = urlsplit(server.url)
    answer = request(server, "GET", f"{parts.path}?{parts.query}")
    assert answer.status == 303
    return answer.headers["Set-Cookie"].split(";")[0]
