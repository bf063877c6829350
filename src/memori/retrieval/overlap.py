"""Embedding the query while the text searches run.

An embedder that spends its time waiting outside the GIL (a network call) declares
``gil_free = True``; the retriever then embeds the query on a small shared pool while
the caller's thread runs the searches that need no vector, and the query embedding
costs the call only what outlasts them. When the pool is full (many retrievals at
once) the caller embeds in its own thread, as without overlap. Local inference (the
ONNX model) needs a core of its own and does not declare it: on two vCPUs, running it
beside the searches slowed both.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor

from memori.core import Embedder
from memori.core.forks import in_children

WORKERS = 4
"""Query embeddings run at once on the pool; more retrievals embed in their own thread."""

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_in_flight = 0


def overlaps(embedder: Embedder | None) -> bool:
    """Whether ``embedder`` declares that it embeds outside the GIL."""
    return getattr(embedder, "gil_free", False) is True  # SupportsGilFree, cheaply


def embed_aside(embedder: Embedder, query: str) -> Future[list[float]] | None:
    """Start embedding ``query`` on the pool; None when the pool is full."""
    global _pool, _in_flight
    with _lock:
        if _in_flight >= WORKERS:
            return None
        if _pool is None:
            _pool = ThreadPoolExecutor(WORKERS, thread_name_prefix="memori-embed")
        _in_flight += 1
        pool = _pool
    future = pool.submit(_embed_one, embedder, query)
    future.add_done_callback(_release)
    return future


def _embed_one(embedder: Embedder, query: str) -> list[float]:
    vectors: Sequence[Sequence[float]] = embedder.embed([query])
    return list(vectors[0])


def _after_fork_in_child() -> None:
    """A forked child has none of the parent's pool threads (a query handed to that pool
    there would wait forever), and ``_lock`` may have been held by one of them: the child
    starts a pool of its own on first use."""
    global _lock, _pool, _in_flight
    _lock = threading.Lock()
    _pool, _in_flight = None, 0


in_children(_after_fork_in_child)


def _release(_future: Future[list[float]]) -> None:
    global _in_flight
    with _lock:
        _in_flight -= 1
