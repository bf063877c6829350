"""Qdrant URLs: which Qdrant to open (remote server, local directory, in-memory).

Accepted forms (scheme is case-insensitive):

- ``qdrant+http://host[:port][/prefix]`` and ``qdrant://host[:port][/prefix]``: a
  server over plain HTTP.
- ``qdrant+https://host[:port][/prefix]``: a server over TLS (Qdrant Cloud).
  Both default to Qdrant's port 6333; behind a proxy on 443, write ``:443``.
- ``qdrant+path:///abs/dir`` (absolute) or ``qdrant+path://rel/dir`` (relative to
  the working directory, ``~`` expanded): qdrant-client's local mode persisted to
  a directory. Local mode allows one process per directory.
- ``qdrant+memory://`` or ``qdrant://:memory:``: a fresh in-memory local instance.
  ``qdrant+memory://NAME`` opens a named in-memory instance shared by every store of
  this process that opens the same name while one of them is alive.

Query parameters: ``api_key`` (also accepted as the URL password,
``qdrant+https://:KEY@host``), ``timeout`` (seconds), ``prefer_grpc`` and
``grpc_port`` for servers, and ``collection_prefix`` for every form. Anything
else is a ``ConfigurationError``. The API key never appears in a repr, log or error.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote, urlsplit

from memori.core.errors import ConfigurationError
from memori.core.urls import url_scheme

Mode = Literal["remote", "path", "memory"]

DEFAULT_PORT = 6333
SCHEMES = ("qdrant", "qdrant+http", "qdrant+https", "qdrant+path", "qdrant+memory")
_SERVER_PARAMS = frozenset({"api_key", "timeout", "prefer_grpc", "grpc_port"})
_COMMON_PARAMS = frozenset({"collection_prefix"})
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True)
class QdrantTarget:
    """A parsed Qdrant URL: the mode plus what qdrant-client needs to open it."""

    mode: Mode
    url: str | None = None
    """``http(s)://host:port`` of a server (remote mode only)."""
    prefix: str | None = None
    path: str | None = None
    """Directory of local mode with persistence."""
    name: str | None = None
    """Name of a shared in-memory instance (``None``: a private one)."""
    api_key: str | None = field(default=None, repr=False)
    timeout: int | None = None
    prefer_grpc: bool = False
    grpc_port: int | None = None
    collection_prefix: str | None = None

    def __repr__(self) -> str:
        key = ", api_key=***" if self.api_key else ""
        where = self.url or self.path or f":memory:{self.name or ''}"
        return f"QdrantTarget(mode={self.mode!r}, where={where!r}{key})"

    @property
    def is_local(self) -> bool:
        return self.mode != "remote"

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments for ``QdrantClient`` / ``AsyncQdrantClient``."""
        if self.mode == "memory":
            return {"location": ":memory:"}
        if self.mode == "path":
            return {"path": self.path}
        opts: dict[str, Any] = {"url": self.url, "prefer_grpc": self.prefer_grpc}
        for key in ("prefix", "api_key", "timeout", "grpc_port"):
            value = getattr(self, key)
            if value is not None:
                opts[key] = value
        return opts


def _flag(name: str, value: str) -> bool:
    low = value.lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ConfigurationError(f"Qdrant URL parameter {name} must be true or false")


def _int(name: str, value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise ConfigurationError(f"Qdrant URL parameter {name} must be an integer") from None
    if number <= 0:
        raise ConfigurationError(f"Qdrant URL parameter {name} must be positive")
    return number


def _params(query: str, allowed: frozenset[str]) -> dict[str, str]:
    params: dict[str, str] = {}
    for key, value in parse_qsl(query, keep_blank_values=True):
        if key not in allowed:
            raise ConfigurationError(
                f"unknown Qdrant URL parameter {key!r}; allowed: {', '.join(sorted(allowed))}"
            )
        params[key] = value
    return params


def parse_url(url: str) -> QdrantTarget:
    """Parse a ``qdrant...`` URL (see the module docstring); raises ConfigurationError."""
    scheme = url_scheme(url)
    if scheme not in SCHEMES:
        raise ConfigurationError(f"not a Qdrant URL scheme: {scheme or '(none)'!r}")
    rest = url[len(scheme) + 3 :]
    if scheme == "qdrant+memory" or (scheme == "qdrant" and rest.split("?")[0] == ":memory:"):
        return _memory(rest)
    if scheme == "qdrant+path":
        return _path(rest)
    return _remote("https" if scheme == "qdrant+https" else "http", url)


def _memory(rest: str) -> QdrantTarget:
    body, _, query = rest.partition("?")
    params = _params(query, _COMMON_PARAMS)
    name = None if body in ("", ":memory:") else unquote(body.rstrip("/"))
    return QdrantTarget(mode="memory", name=name, collection_prefix=params.get("collection_prefix"))


def _path(rest: str) -> QdrantTarget:
    body, _, query = rest.partition("?")
    params = _params(query, _COMMON_PARAMS)
    if not body:
        raise ConfigurationError("qdrant+path:// needs a directory: qdrant+path:///abs/dir")
    path = os.path.expanduser(unquote(body))
    return QdrantTarget(mode="path", path=path, collection_prefix=params.get("collection_prefix"))


def _remote(http_scheme: str, url: str) -> QdrantTarget:
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        raise ConfigurationError("malformed Qdrant URL (bad host or port)") from None
    if not host:
        raise ConfigurationError("a Qdrant server URL needs a host: qdrant+http://host:6333")
    params = _params(parts.query, _SERVER_PARAMS | _COMMON_PARAMS)
    api_key = params.get("api_key") or (unquote(parts.password) if parts.password else None)
    netloc = f"[{host}]" if ":" in host else host
    base = f"{http_scheme}://{netloc}:{port if port is not None else DEFAULT_PORT}"
    prefix = parts.path.strip("/") or None
    return QdrantTarget(
        mode="remote",
        url=base,
        prefix=prefix,
        api_key=api_key or None,
        timeout=_int("timeout", params["timeout"]) if "timeout" in params else None,
        prefer_grpc=_flag("prefer_grpc", params.get("prefer_grpc", "false")),
        grpc_port=_int("grpc_port", params["grpc_port"]) if "grpc_port" in params else None,
        collection_prefix=params.get("collection_prefix"),
    )
