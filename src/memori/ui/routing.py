"""Requests, responses and the router: path segments matched against patterns."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, unquote, urlsplit


class NotFound(Exception):
    """Answered with 404: nothing here, or nothing this page may show."""


class BadRequest(Exception):
    """Answered with 400 and the message."""


@dataclass
class Request:
    """One HTTP request, its path split into unquoted segments."""

    method: str
    path: str
    query: dict[str, str]
    form: dict[str, str] = field(default_factory=dict)
    cookies: dict[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, method: str, target: str, body: bytes = b"",
              cookie_header: str = "") -> Request:
        parts = urlsplit(target)
        form = _flat(parse_qs(body.decode("utf-8", "replace"), keep_blank_values=True))
        cookies: dict[str, str] = {}
        for item in cookie_header.split(";"):
            name, _, value = item.strip().partition("=")
            if name:
                cookies[name] = value
        return cls(method, parts.path or "/",
                   _flat(parse_qs(parts.query, keep_blank_values=True)), form, cookies)

    def arg(self, name: str) -> str:
        """A query argument, stripped ('' when absent)."""
        return self.query.get(name, "").strip()


def _flat(values: dict[str, list[str]]) -> dict[str, str]:
    return {k: v[-1] for k, v in values.items()}


@dataclass
class Response:
    """What a view returns: a status, a body and headers."""

    body: str = ""
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "text/html; charset=utf-8"

    @classmethod
    def redirect(cls, location: str) -> Response:
        return cls("", 303, {"Location": location})


View = Callable[..., Response]


def path(*segments: str) -> str:
    """A URL path from segments, each quoted whole (ids may hold '/', '?', '%')."""
    return "/" + "/".join(quote(s, safe="") for s in segments)


class Router:
    """Routes ``(method, pattern)`` to views; a pattern is a path whose ``{name}``
    segments are passed to the view as keyword arguments."""

    def __init__(self) -> None:
        self._routes: list[tuple[str, list[str], View]] = []

    def add(self, method: str, pattern: str, view: View) -> None:
        self._routes.append((method, pattern.strip("/").split("/"), view))

    def resolve(self, request: Request) -> tuple[View, dict[str, str]]:
        raw = request.path.strip("/")
        segments = [unquote(s) for s in raw.split("/")] if raw else [""]
        for method, pattern, view in self._routes:
            if method != request.method or len(pattern) != len(segments):
                continue
            params: dict[str, str] = {}
            for want, got in zip(pattern, segments, strict=True):
                if want.startswith("{") and want.endswith("}"):
                    if not got:
                        break
                    params[want[1:-1]] = got
                elif want != got:
                    break
            else:
                return view, params
        raise NotFound(request.path)
