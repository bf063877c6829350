"""The Qdrant ``MemoryStore``: ``open_store(target)`` for a URL or a qdrant-client object.

Turns and memories live in two collections shared by every entity, each point
carrying its scope in the payload (``entity_id`` is the tenant index); every
per-entity call filters on it. Text relevance comes from memori's own sparse
vectors (:mod:`sparse`), similarity from an optional dense vector, and hybrid
search is fused by Qdrant. Setup runs on first use (or :meth:`QdrantStore.setup`).
See :mod:`urls` for the URL forms and :mod:`connection` for sync/async clients.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from memori.backends.qdrant import operations as ops
from memori.backends.qdrant.aio import AsyncTwins
from memori.backends.qdrant.calls import Op, run
from memori.backends.qdrant.connection import Connection
from memori.backends.qdrant.schema import Features, Layout, setup
from memori.backends.qdrant.urls import parse_url
from memori.core.capabilities import Capability
from memori.core.errors import ConfigurationError
from memori.core.models import ExtractState, Hit, Memory, Scope, Turn
from memori.core.protocols import Record
from memori.core.store_base import StoreBase

T = TypeVar("T")
_STORE_OPTIONS = frozenset({"avg_len", "tenant_hnsw", "idf_per_entity"})


class QdrantStore(AsyncTwins, StoreBase):
    """A memori store on Qdrant (server or qdrant-client local mode), sync and async."""

    name = "qdrant"

    def __init__(
        self, connection: Connection, layout: Layout, *, idf_per_entity: bool | None = None,
    ) -> None:
        self._conn = connection
        self._layout = layout
        self.vector_dim = layout.vector_dim
        self._idf_option = idf_per_entity
        self._features: Features | None = None
        self._setup_lock = threading.Lock()

    def __repr__(self) -> str:
        where = "local" if self._conn.local else f"server {self._conn.where}"
        return f"<QdrantStore {where} prefix={self._layout.prefix!r} vector_dim={self.vector_dim}>"

    @property
    def layout(self) -> Layout:
        return self._layout

    @property
    def capabilities(self) -> frozenset[Capability]:
        """Local mode scans exactly (no approximate or inverted index) and is one
        process per directory; a server indexes and serves many processes."""
        caps = {Capability.TEXT_SEARCH, Capability.ASYNC}
        if self.vector_dim is not None:
            caps |= {Capability.VECTOR_SEARCH, Capability.HYBRID_FUSION}
        if self._conn.native_async:
            caps.add(Capability.NATIVE_ASYNC)
        if not self._conn.local:
            caps |= {Capability.MULTI_PROCESS, Capability.NATIVE_TEXT_INDEX}
            if self.vector_dim is not None:
                caps.add(Capability.NATIVE_VECTOR_INDEX)
        return frozenset(caps)

    # running operations

    def _setup_op(self) -> Op[Features]:
        return setup(self._layout, local=self._conn.local, idf_per_entity=self._idf_option)

    def _run(self, op: Op[T]) -> T:
        return run(op, self._conn.call)

    def _features_sync(self) -> Features:
        if self._features is None:
            with self._setup_lock:
                if self._features is None:
                    self._features = self._run(self._setup_op())
        return self._features

    def _exec(self, op: Op[T]) -> T:
        """Run ``op`` after making sure setup has run on this handle."""
        self._features_sync()
        return self._run(op)

    # lifecycle

    def setup(self) -> None:
        with self._setup_lock:
            self._features = self._run(self._setup_op())

    def close(self) -> None:
        self._conn.close()

    # turns

    def append_turns(self, turns: Sequence[Turn]) -> None:
        self._exec(ops.append_turns(self._layout, turns))

    def list_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        return self._exec(ops.list_turns(self._layout, scope, limit))

    def count_turns(self, scope: Scope) -> int:
        return self._exec(ops.count_turns(self._layout, scope))

    def delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        return self._exec(ops.delete_turns(self._layout, scope, turn_ids))

    def search_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]:
        features = self._features_sync()
        return self._run(ops.search_turns(self._layout, features, scope, text, vector, limit))

    # memories

    def put_memories(self, memories: Sequence[Memory]) -> None:
        self._exec(ops.put_memories(self._layout, memories))

    def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        return self._exec(ops.get_memory(self._layout, scope, memory_id))

    def list_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        return self._exec(
            ops.list_memories(self._layout, scope, include_superseded, limit, offset)
        )

    def count_memories(self, scope: Scope, *, include_superseded: bool = False) -> int:
        return self._exec(ops.count_memories(self._layout, scope, include_superseded))

    def update_memory(self, scope: Scope, memory_id: str, changes: Mapping[str, Any]) -> bool:
        return self._exec(ops.update_memory(self._layout, scope, memory_id, changes))

    def delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int:
        return self._exec(ops.delete_memories(self._layout, scope, memory_ids))

    def search_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]:
        features = self._features_sync()
        return self._run(ops.search_memories(
            self._layout, features, scope, text, vector, limit, include_superseded
        ))

    # whole entity

    def forget(self, entity_id: str) -> int:
        return self._exec(ops.forget(self._layout, entity_id))

    def scan(self, entity_id: str | None = None) -> Iterator[Turn | Memory]:
        return iter(self._exec(ops.scan(self._layout, entity_id)))

    def import_records(self, records: Iterable[Record]) -> int:
        return self._exec(ops.import_records(self._layout, records))

    def raw_count(self, entity_id: str) -> int:
        return self._exec(ops.raw_count(self._layout, entity_id))

    # outbox and admin

    def outbox_pending(self, limit: int = 100) -> list[Turn]:
        return self._exec(ops.outbox_pending(self._layout, limit))

    def outbox_parked(self, limit: int = 100) -> list[Turn]:
        return self._exec(ops.outbox_parked(self._layout, limit))

    def outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None:
        self._exec(ops.outbox_mark(self._layout, entity_id, turn_ids, state, attempts, error))

    def admin_stats(self) -> dict[str, Any]:
        stats = self._exec(ops.admin_stats(self._layout))
        stats["mode"] = "local" if self._conn.local else "server"
        return stats


def open_store(
    target: Any, *, vector_dim: int | None = None, collection_prefix: str | None = None,
    **options: Any,
) -> QdrantStore:
    """Open a store on a ``qdrant...`` URL or a ``QdrantClient`` / ``AsyncQdrantClient``.

    Store options: ``avg_len`` (assumed words per text for BM25), ``tenant_hnsw``
    (per-entity HNSW graphs, default True), ``idf_per_entity`` (None: when the
    server supports it). With a URL, other options go to the qdrant-client
    constructor (``timeout``, ``https``, ``headers``...). The store is set up on
    first use.
    """
    store_opts = {k: options.pop(k) for k in list(options) if k in _STORE_OPTIONS}
    parsed = parse_url(target) if isinstance(target, str) else None
    if parsed is None and options:
        raise ConfigurationError(
            f"unknown options for a Qdrant client object: {', '.join(sorted(options))}"
        )
    url_prefix = parsed.collection_prefix if parsed is not None else None
    layout = Layout(
        prefix=collection_prefix or url_prefix or "memori_", vector_dim=vector_dim,
        avg_len=float(store_opts.get("avg_len", 32.0)),
        tenant_hnsw=bool(store_opts.get("tenant_hnsw", True)),
    )
    if parsed is None:
        connection = Connection.borrow(target)
    elif parsed.is_local:
        connection = Connection.open(parsed, options)
    else:
        connection = Connection.open(parsed, {"check_compatibility": False, **options})
    return QdrantStore(connection, layout, idf_per_entity=store_opts.get("idf_per_entity"))
