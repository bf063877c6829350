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
from collections.abc import Iterator
from typing import Any, TypeVar

from memori.backends.qdrant.connection import Connection
from memori.backends.qdrant.operations import QdrantPlans
from memori.backends.qdrant.schema import Features, Layout, setup
from memori.backends.qdrant.urls import parse_url
from memori.core.capabilities import Capability
from memori.core.errors import ConfigurationError
from memori.core.models import Memory, Turn
from memori.core.plan_store import Plan, Work, adrive, drive

T = TypeVar("T")
_STORE_OPTIONS = frozenset({"avg_len", "tenant_hnsw", "idf_per_entity"})


class QdrantStore(QdrantPlans):
    """A memori store on Qdrant (server or qdrant-client local mode), sync and async.

    Plans run on ``QdrantClient``, or are awaited on ``AsyncQdrantClient`` when
    async is native (a server); local mode runs async calls in a worker thread.
    """

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

    # the runners: set up on first use, then the plan

    def _plan_setup(self) -> Plan[Features]:
        return setup(self._layout, local=self._conn.local, idf_per_entity=self._idf_option)

    def run(self, plan: Plan[T], work: Work) -> T:
        if self._features is None:
            with self._setup_lock:
                drive(self._plan_features(), self._conn.call)
        return drive(plan, self._conn.call)

    async def arun(self, plan: Plan[T], work: Work) -> T:
        if not self._conn.native_async:
            return await super().arun(plan, work)
        if self._features is None:
            await adrive(self._plan_features(), self._conn.acall)
        return await adrive(plan, self._conn.acall)

    # lifecycle

    def setup(self) -> None:
        with self._setup_lock:
            self._features = drive(self._plan_setup(), self._conn.call)

    async def asetup(self) -> None:
        if not self._conn.native_async:
            return await super().asetup()
        self._features = await adrive(self._plan_setup(), self._conn.acall)

    def close(self) -> None:
        self._conn.close()

    async def aclose(self) -> None:
        await self._conn.aclose()

    # what PlanStore does not derive

    def scan(self, entity_id: str | None = None) -> Iterator[Turn | Memory]:
        return iter(self.run(self.plan_scan(entity_id), Work("scan", entity_id, True)))

    def raw_count(self, entity_id: str) -> int:
        return self.run(self.plan_raw_count(entity_id), Work("raw_count", entity_id, True))

    def admin_stats(self) -> dict[str, Any]:
        stats = self.run(self.plan_admin_stats(), Work("admin_stats", None, True))
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
