"""Installing the memory wrappers on one client instance, and taking them off again.

Only the instance is patched (attributes set on its resource objects), never the
openai classes, so other clients stay untouched. Patched: ``create`` and ``parse``
of chat completions and responses, and ``responses.retrieve`` (streamed retrieval
resumes a stream: see :mod:`memori.llm.resume`). The SDK caches helper objects
(``with_raw_response``, ``with_streaming_response``) that capture the bound
methods when first built; they are dropped so they are rebuilt around the
wrappers, and dropped again on removal. Clients made from a registered one with
``copy()`` / ``with_options()`` are registered too.

Registering is instant: the SDK builds its resources on first use, and building
them costs (``responses`` and ``beta`` import hundreds of type modules, ``chat``
about 20 ms). A resource not built yet is not built by ``register``: a stand-in
takes its place on the instance and, at the first attribute read, builds the real
resource, patches it and steps aside.
"""

from __future__ import annotations

import functools
import threading
import warnings
from collections.abc import Callable
from typing import Any

import openai

from memori.llm.chat import CHAT
from memori.llm.engine import Api, MemoryEngine
from memori.llm.instance_patch import CACHED_HELPERS, InstancePatch
from memori.llm.interceptor import async_wrapper, sync_wrapper
from memori.llm.responses import RESPONSES
from memori.llm.resume import async_retrieve_wrapper, sync_retrieve_wrapper

ENDPOINTS: tuple[tuple[tuple[str, ...], Api], ...] = (
    (("chat", "completions"), CHAT),
    (("responses",), RESPONSES),
    (("beta", "chat", "completions"), CHAT),
    (("beta", "responses"), RESPONSES),
)
METHODS = ("create", "parse")
HELPER_HOLDERS: tuple[tuple[str, ...], ...] = (
    (), ("chat",), ("beta",), ("beta", "chat"), *(path for path, _ in ENDPOINTS)
)
DEFERRED = ("chat", "responses", "beta")
"""Client resources whose first build is slow: patched when first used, not at register."""


def is_supported(client: Any) -> bool:
    """``OpenAI`` and ``AsyncOpenAI`` and their subclasses (the Azure clients among them)."""
    return isinstance(client, openai.OpenAI | openai.AsyncOpenAI)


def _resolve(root: Any, path: tuple[str, ...]) -> Any:
    obj = root
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in path:
            try:
                obj = getattr(obj, name)
            except Exception:
                return None
    return obj


class ClientPatch(InstancePatch):
    """The wrappers installed on one openai client and what they replaced."""

    def __init__(
        self, client: Any, engine: MemoryEngine, on_copy: Callable[[Any], None]
    ) -> None:
        super().__init__(client, engine, on_copy)
        self._lock = threading.Lock()

    def install(self) -> None:
        self.active = True
        for name in DEFERRED:
            if self._unbuilt(name):
                self._set(self._client, name, _Unbuilt(self, name))
        for path, api in ENDPOINTS:
            if not self._unbuilt(path[0]):
                self._wrap(path, api)
        self._wrap_copies()
        self._drop_cached_helpers()

    def _wrap(self, path: tuple[str, ...], api: Api) -> None:
        resource = _resolve(self._client, path)
        if resource is None:
            return
        is_async = isinstance(self._client, openai.AsyncOpenAI)
        make = async_wrapper if is_async else sync_wrapper
        for method in METHODS:
            original = getattr(resource, method, None)
            if callable(original):
                self._set(resource, method, make(self._engine, api, original, self.is_active))
        retrieve = getattr(resource, "retrieve", None)
        if api is RESPONSES and callable(retrieve):  # resumed streams
            resume = async_retrieve_wrapper if is_async else sync_retrieve_wrapper
            self._set(resource, "retrieve", resume(self._engine, retrieve, self.is_active))

    def _unbuilt(self, name: str) -> bool:
        """Whether ``name`` is a deferred resource of the client still unbuilt (or our
        stand-in)."""
        if name not in DEFERRED:
            return False
        held = self._client.__dict__.get(name)
        if isinstance(held, _Unbuilt):
            return True
        return held is None and isinstance(
            getattr(type(self._client), name, None), functools.cached_property)

    def build(self, name: str) -> Any:
        """Build the resource ``name`` in place of its stand-in, patched while active."""
        with self._lock:
            held = self._client.__dict__.get(name)
            if not isinstance(held, _Unbuilt):
                return getattr(self._client, name)
            built = getattr(type(self._client), name).func(self._client)
            self._client.__dict__[name] = built
            if self.active:
                for path, api in ENDPOINTS:
                    if path[0] == name:
                        self._wrap(path, api)
            return built

    def _drop_cached_helpers(self) -> None:
        for path in HELPER_HOLDERS:
            if path and self._unbuilt(path[0]):
                continue
            holder = _resolve(self._client, path)
            for name in CACHED_HELPERS:
                if holder is not None and hasattr(holder, "__dict__"):
                    holder.__dict__.pop(name, None)


class _Unbuilt:
    """Stands on the client for a resource not built yet; any attribute read builds it."""

    __slots__ = ("_name", "_patch")

    def __init__(self, patch: ClientPatch, name: str) -> None:
        self._patch = patch
        self._name = name

    def __getattr__(self, attr: str) -> Any:
        return getattr(self._patch.build(self._name), attr)

    def __repr__(self) -> str:
        return repr(self._patch.build(self._name))
