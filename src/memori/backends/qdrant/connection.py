"""The qdrant-client objects behind a store: which exist, who owns them, how calls run.

- Server: a ``QdrantClient`` for sync calls and an ``AsyncQdrantClient`` for async
  ones, each created on first use from the same options (or from the
  ``init_options`` of the client the user passed). Async is native.
- Local mode (``:memory:`` or a directory): one client holds the data, so only one
  exists, and it computes (and writes its files) inside the calling thread: a
  local ``AsyncQdrantClient``'s coroutines never suspend. So sync calls run on
  the client directly (stepping the coroutines of an async one) and async calls
  run the same in a worker thread, keeping the event loop free. Calls on one
  local client are serialised by a lock, since local mode is not thread-safe.
  (A local directory client you pass yourself needs
  ``force_disable_check_same_thread=True`` where sqlite3 is not built serialised,
  as on macOS; the clients memori opens set it.)
- Stores opening the same local directory or named in-memory instance in one
  process share one client (a directory admits one client per process); it is
  closed when the last of them closes. Clients the user passed are never closed.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import threading
import warnings
import weakref
from collections.abc import Coroutine, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from memori.backends.qdrant.calls import Call
from memori.backends.qdrant.urls import QdrantTarget
from memori.core.errors import MemoriError, StoreError, StoreUnavailableError
from memori.core.forks import keep_from_parent, reset_in_children
from memori.core.redact import option_secrets, redact_url, scrub
from memori.core.urls import redact_text

_registry_lock = threading.Lock()
_shared: dict[str, list[Any]] = {}
"""Local clients shared inside this process: key -> [client, number of stores]."""
_client_locks: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_closing_tasks: set[asyncio.Task[Any]] = set()
"""Client closes scheduled by a sync ``close()`` inside a running event loop."""
_LOCAL_INDEX_WARNING = r"Payload indexes have no effect in the local Qdrant"
MEMORI_OPTIONS = frozenset({"migrate"})
"""Options memori passes every backend that are no qdrant-client option: Qdrant
collections are versioned and upgraded by ``setup`` itself."""
PROBE_TIMEOUT = 2.0
"""Seconds the first call of a server opened by URL waits for the server to answer."""


def _import_clients() -> tuple[Any, Any]:
    from qdrant_client import AsyncQdrantClient, QdrantClient

    return QdrantClient, AsyncQdrantClient


def is_local_client(client: Any) -> bool:
    """True for a qdrant-client object in local mode (``:memory:`` or ``path=``)."""
    options = getattr(client, "init_options", None) or {}
    return options.get("location") == ":memory:" or options.get("path") is not None


def _lock_for(client: Any) -> threading.RLock:
    with _registry_lock:
        lock = _client_locks.get(client)
        if lock is None:
            lock = _client_locks[client] = threading.RLock()
        return lock


def _acquire_shared(key: str, make: Any) -> Any:
    with _registry_lock:
        entry = _shared.get(key)
        if entry is None:
            entry = _shared[key] = [make(), 0]
        entry[1] += 1
        return entry[0]


def _release_shared(key: str) -> None:
    with _registry_lock:
        entry = _shared.get(key)
        if entry is None:
            return
        entry[1] -= 1
        if entry[1] > 0:
            return
        del _shared[key]
    entry[0].close()


def _step(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine that never suspends (local-mode async client) to completion."""
    try:
        coroutine.send(None)
    except StopIteration as done:
        return done.value
    coroutine.close()
    raise StoreError("a local AsyncQdrantClient call suspended; it cannot serve sync calls")


def translate(method: str, error: Exception, secrets: tuple[str, ...] = ()) -> Exception:
    """The memori error for a driver exception (chained by the caller), credentials masked."""
    if isinstance(error, MemoriError):
        return error
    from qdrant_client.http.exceptions import ResponseHandlingException

    unavailable: tuple[type[BaseException], ...] = (
        ResponseHandlingException, ConnectionError, TimeoutError,
    )
    try:
        import httpx

        unavailable += (httpx.TransportError,)
    except ImportError:  # pragma: no cover - httpx ships with qdrant-client
        pass
    detail = f"{type(error).__name__}: {scrub(str(error), secrets)[:300]}"
    if isinstance(error, unavailable) or _grpc_unavailable(error) or (
        isinstance(error, RuntimeError) and "closed" in str(error)
    ):
        return StoreUnavailableError(f"Qdrant {method} failed: {detail}")
    return StoreError(f"Qdrant {method} failed: {detail}")


def _grpc_unavailable(error: Exception) -> bool:
    """A gRPC error (``prefer_grpc``) saying the server cannot be reached right now."""
    code = getattr(error, "code", None)
    if not callable(code):
        return False
    try:
        name = getattr(code(), "name", "")
    except Exception:
        return False
    return name in {"UNAVAILABLE", "DEADLINE_EXCEEDED"}


class Connection:
    """The clients of one store; see the module docstring for who serves which call."""

    _probe_url: str | None = None
    """A server opened by URL not yet reached: probed (briefly) before the first call."""

    def __init__(
        self, *, sync: Any = None, async_: Any = None, options: dict[str, Any] | None = None,
        local: bool, shared_key: str | None = None, owned: bool = False,
    ) -> None:
        self._sync = sync
        self._async = async_
        self._options = options
        self.local = local
        self._shared_key = shared_key
        self._owned: list[Any] = [c for c in (sync, async_) if c is not None] if owned else []
        self._engine = sync if sync is not None else async_
        self._lock = _lock_for(self._engine) if local and self._engine is not None else None
        self._create_lock = threading.Lock()
        self.closed = False
        self.secrets = option_secrets(options or {})
        self.where = _where(options) if not local else "local"
        if not local:  # a server's clients hold connections a child must not share
            reset_in_children(self, Connection._forked)

    def _forked(self) -> None:
        """In a forked child: the clients this connection made are its parent's (their
        open HTTP or gRPC connections with them): the child makes its own on first use.
        The parent's are kept referenced, never used nor closed here; a client the user
        passed stays the user's."""
        self._create_lock = threading.Lock()
        made, self._owned = self._owned, []
        for client in made:
            keep_from_parent(client)
        if any(self._sync is c for c in made):
            self._sync = None
        if any(self._async is c for c in made):
            self._async = None

    @classmethod
    def open(cls, target: QdrantTarget, client_options: dict[str, Any]) -> Connection:
        """A connection for a parsed URL (local clients are shared inside the process)."""
        client_options = {k: v for k, v in client_options.items() if k not in MEMORI_OPTIONS}
        if not target.is_local:
            remote = cls(options={**target.client_options(), **client_options}, local=False)
            remote._probe_url = None if target.prefer_grpc else target.url
            return remote
        qdrant_client, _ = _import_clients()
        opts = {**target.client_options(), **client_options}
        opts["force_disable_check_same_thread"] = True
        if target.mode == "memory" and target.name is None:
            return cls(sync=qdrant_client(**opts), local=True, owned=True)
        key = (
            f"path:{os.path.realpath(target.path or '')}" if target.mode == "path"
            else f"memory:{target.name}"
        )
        client = _acquire_shared(key, lambda: qdrant_client(**opts))
        return cls(sync=client, local=True, shared_key=key)

    @classmethod
    def borrow(cls, client: Any) -> Connection:
        """A connection around a ``QdrantClient`` or ``AsyncQdrantClient`` the user owns."""
        qdrant_client, async_client = _import_clients()
        if not isinstance(client, qdrant_client | async_client):
            raise TypeError(f"not a Qdrant client: {type(client).__name__}")
        local = is_local_client(client)
        options = None if local else dict(client.init_options)
        if isinstance(client, async_client):
            return cls(async_=client, options=options, local=local)
        return cls(sync=client, options=options, local=local)

    @property
    def native_async(self) -> bool:
        """Async calls await ``AsyncQdrantClient`` (a server); local mode uses a thread."""
        return not self.local

    def _client(self, *, asynchronous: bool) -> Any:
        existing = self._async if asynchronous else self._sync
        if existing is not None or self.local:
            return existing
        with self._create_lock:
            existing = self._async if asynchronous else self._sync
            if existing is None:
                qdrant_client, async_client = _import_clients()
                factory = async_client if asynchronous else qdrant_client
                existing = factory(**(self._options or {}))
                self._owned.append(existing)
                if asynchronous:
                    self._async = existing
                else:
                    self._sync = existing
            return existing

    def _guard(self) -> Any:
        if self.closed:
            raise StoreUnavailableError("the Qdrant store is closed")
        return self._lock if self._lock is not None else nullcontext()

    @contextmanager
    def _quiet(self, call: Call) -> Iterator[None]:
        if self.local and call.method == "create_payload_index":
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=_LOCAL_INDEX_WARNING)
                yield
        else:
            yield

    def call(self, call: Call) -> Any:
        """Run one call synchronously."""
        with self._guard():
            try:
                with self._quiet(call):
                    client = self._client(asynchronous=False)
                    self._probe()
                    if client is not None:
                        return getattr(client, call.method)(**call.kwargs)
                    return _step(getattr(self._async, call.method)(**call.kwargs))
            except Exception as e:
                return self._failed(call, e)

    async def acall(self, call: Call) -> Any:
        """Await one call on the async client (what a store does when :attr:`native_async`)."""
        with self._guard():
            try:
                with self._quiet(call):
                    client = self._client(asynchronous=True)
                    await self._aprobe()
                    return await getattr(client, call.method)(**call.kwargs)
            except Exception as e:
                return self._failed(call, e)

    def _failed(self, call: Call, error: Exception) -> Exception:
        """The memori error for a failed call: raised, or returned when it is tolerated."""
        translated = translate(call.method, error, self.secrets)
        if call.tolerated:
            return translated
        raise translated from error

    def _probe(self) -> None:
        """Fail fast (``PROBE_TIMEOUT``) when the server cannot be reached at all: any
        HTTP answer will do, so the probe sends no credential."""
        url = self._probe_url
        if url is None:
            return
        import httpx

        try:
            httpx.get(url, timeout=PROBE_TIMEOUT, verify=self._verify())
        except httpx.TransportError as e:
            raise _unreachable(url, e) from e
        self._probe_url = None

    async def _aprobe(self) -> None:
        url = self._probe_url
        if url is None:
            return
        import httpx

        try:
            async with httpx.AsyncClient(timeout=PROBE_TIMEOUT, verify=self._verify()) as c:
                await c.get(url)
        except httpx.TransportError as e:
            raise _unreachable(url, e) from e
        self._probe_url = None

    def _verify(self) -> Any:
        return (self._options or {}).get("verify", True)

    def close(self) -> None:
        """Close what this connection opened; an async client is closed as well as
        a sync caller can (prefer :meth:`aclose` after async use)."""
        if self.closed:
            return
        self.closed = True
        if self._shared_key is not None:
            _release_shared(self._shared_key)
        for client in self._owned:
            closing = client.close()
            if inspect.iscoroutine(closing):
                _close_coroutine(closing, local=self.local)

    async def aclose(self) -> None:
        """Close what this connection opened, awaiting async clients."""
        if self.closed:
            return
        self.closed = True
        if self._shared_key is not None:
            _release_shared(self._shared_key)
        for client in self._owned:
            closing = client.close()
            if inspect.iscoroutine(closing):
                await closing


def _where(options: dict[str, Any] | None) -> str:
    """The server a remote connection talks to, credentials masked (for reprs)."""
    opts = options or {}
    url = opts.get("url") or opts.get("location")
    if url is None and opts.get("host"):
        url = f"{opts['host']}:{opts.get('port', 6333)}"
    return redact_url(str(url)) if url else "server"


def _unreachable(url: str, error: Exception) -> StoreUnavailableError:
    return StoreUnavailableError(
        f"Qdrant server {redact_text(url)} could not be reached (probe timeout "
        f"{PROBE_TIMEOUT:g} s): "
        f"{type(error).__name__}: {redact_text(str(error))[:200]}"
    )


def _close_coroutine(closing: Coroutine[Any, Any, Any], *, local: bool) -> None:
    if local:
        _step(closing)
        return
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        asyncio.run(closing)
    else:
        task = loop.create_task(closing)
        _closing_tasks.add(task)
        task.add_done_callback(_closing_tasks.discard)
