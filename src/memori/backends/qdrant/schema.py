"""Collections, payload indexes and the versioned, idempotent setup of a Qdrant store.

Three collections share a prefix: ``<prefix>turns`` and ``<prefix>memories`` (one
point per item, all entities together, partitioned by the ``entity_id`` tenant
index as Qdrant's multitenancy guide recommends) and ``<prefix>meta`` (one point:
the schema version and the dense dimension). Setup applies the numbered steps the
meta point does not list yet; every step is safe to repeat and to race. Step 2
writes again the sparse text vector of each point holding Chinese, Japanese or
Korean text (written before CJK runs were cut into characters and pairs).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from qdrant_client import models

from memori.backends.qdrant import filters as f
from memori.backends.qdrant.calls import PAGE, Call, scroll_page
from memori.backends.qdrant.payload import DENSE, TEXT
from memori.backends.qdrant.sparse import document_vector
from memori.core.cjk import has_cjk
from memori.core.errors import ConfigurationError, DimensionMismatchError, SchemaTooNewError
from memori.core.plan_store import Plan

SCHEMA_VERSION = 2
_PREFIX = re.compile(r"^[A-Za-z0-9_\-]{0,64}$")
_META_ID = "6d656d6f-7269-5363-8865-6d6100000001"
IDF_CORPUS_SERVER = (1, 19)
"""First Qdrant server version that computes IDF over a filtered corpus (per tenant)."""

_KEYWORD = models.PayloadSchemaType.KEYWORD
_TENANT = models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True)
_TIME = models.FloatIndexParams(type=models.FloatIndexType.FLOAT)
_BOOL = models.PayloadSchemaType.BOOL
_COMMON_INDEXES: dict[str, Any] = {
    f.ENTITY: _TENANT, f.ITEM: _KEYWORD, f.PROCESS: _KEYWORD, f.SESSION: _KEYWORD,
    f.CREATED_AT: _TIME,
}
TURN_INDEXES: dict[str, Any] = {**_COMMON_INDEXES, f.EXTRACT_STATE: _KEYWORD}
MEMORY_INDEXES: dict[str, Any] = {**_COMMON_INDEXES, f.ALL_PERSONAS: _BOOL, f.CURRENT: _BOOL}


@dataclass(frozen=True)
class Layout:
    """Where and how a store keeps its data (fixed when the store is opened)."""

    prefix: str = "memori_"
    vector_dim: int | None = None
    avg_len: float = 32.0
    tenant_hnsw: bool = True
    """Build HNSW graphs per tenant (``payload_m``) instead of one global graph."""

    def __post_init__(self) -> None:
        if not isinstance(self.prefix, str) or not _PREFIX.match(self.prefix):
            raise ConfigurationError(
                "collection_prefix must be at most 64 letters, digits, '_' or '-'"
            )
        dim = self.vector_dim
        if dim is not None and (type(dim) is not int or dim <= 0):
            raise ConfigurationError("vector_dim must be a positive int or None")

    @property
    def dense(self) -> bool:
        """Whether points carry (and reads fetch) the dense vector."""
        return self.vector_dim is not None

    @property
    def turns(self) -> str:
        return f"{self.prefix}turns"

    @property
    def memories(self) -> str:
        return f"{self.prefix}memories"

    @property
    def meta(self) -> str:
        return f"{self.prefix}meta"


@dataclass(frozen=True)
class Features:
    """What the connected Qdrant can do, learnt during setup."""

    idf_per_entity: bool


def _exists(name: str) -> Plan[bool]:
    found: bool = yield Call("collection_exists", {"collection_name": name})
    return found


def _create(name: str, **kwargs: Any) -> Plan[None]:
    """Create a collection unless it exists; losing a creation race is fine."""
    if (yield from _exists(name)):
        return
    failed = yield Call("create_collection", {"collection_name": name, **kwargs}, tolerated=True)
    if isinstance(failed, Exception) and not (yield from _exists(name)):
        raise failed


def _item_collection(layout: Layout, name: str, indexes: dict[str, Any]) -> Plan[None]:
    vectors: dict[str, models.VectorParams] = {}
    if layout.vector_dim is not None:
        vectors[DENSE] = models.VectorParams(
            size=layout.vector_dim, distance=models.Distance.COSINE
        )
    hnsw = models.HnswConfigDiff(payload_m=16, m=0) if layout.tenant_hnsw else None
    yield from _create(
        name,
        vectors_config=vectors,
        sparse_vectors_config={TEXT: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        hnsw_config=hnsw,
    )
    for field_name, schema in indexes.items():
        yield Call("create_payload_index", {
            "collection_name": name, "field_name": field_name, "field_schema": schema,
            "wait": True,
        })


def _step_1(layout: Layout) -> Plan[None]:
    yield from _item_collection(layout, layout.turns, TURN_INDEXES)
    yield from _item_collection(layout, layout.memories, MEMORY_INDEXES)


def _reindex_cjk(layout: Layout, collection: str) -> Plan[None]:
    """Write the sparse text vector of every point whose content holds CJK text again."""
    offset: Any = None
    while True:
        page, offset = yield from scroll_page(collection, None, limit=PAGE, offset=offset)
        points = []
        for record in page:
            content = (record.payload or {}).get("content")
            if isinstance(content, str) and has_cjk(content):
                indices, values = document_vector(content, avg_len=layout.avg_len)
                points.append(models.PointVectors(id=record.id, vector={
                    TEXT: models.SparseVector(indices=indices, values=values)}))
        if points:
            yield Call("update_vectors", {
                "collection_name": collection, "wait": True, "points": points})
        if offset is None:
            return


def _step_2(layout: Layout) -> Plan[None]:
    yield from _reindex_cjk(layout, layout.turns)
    yield from _reindex_cjk(layout, layout.memories)


STEPS: dict[int, Callable[[Layout], Plan[None]]] = {1: _step_1, 2: _step_2}
"""Setup steps by version; each creates what it needs only when it is missing."""


def _read_meta(layout: Layout) -> Plan[dict[str, Any] | None]:
    if not (yield from _exists(layout.meta)):
        return None
    records: list[models.Record] = yield Call(
        "retrieve", {"collection_name": layout.meta, "ids": [_META_ID], "with_payload": True}
    )
    return dict(records[0].payload or {}) if records else None


def _write_meta(layout: Layout, version: int) -> Plan[None]:
    yield from _create(layout.meta, vectors_config={})
    yield Call("upsert", {
        "collection_name": layout.meta, "wait": True,
        "points": [models.PointStruct(
            id=_META_ID, vector={},
            payload={"schema_version": version, "vector_dim": layout.vector_dim},
        )],
    })


def _check_dimension(layout: Layout, collection: str) -> Plan[None]:
    if layout.vector_dim is None:
        return
    info: models.CollectionInfo = yield Call("get_collection", {"collection_name": collection})
    vectors = info.config.params.vectors
    dense = vectors.get(DENSE) if isinstance(vectors, dict) else None
    if dense is None:
        raise ConfigurationError(
            f"collection {collection!r} was created without vectors; open it with "
            "vector_dim=None or use another collection_prefix"
        )
    if dense.size != layout.vector_dim:
        raise DimensionMismatchError(
            f"collection {collection!r} holds {dense.size}-dimensional vectors, "
            f"the store was opened with vector_dim={layout.vector_dim}"
        )


def _server_version(raw: str) -> tuple[int, int]:
    major, minor = [*(int(n) for n in re.findall(r"\d+", raw)[:2]), 0, 0][:2]
    return major, minor


def _features(local: bool, idf_per_entity: bool | None) -> Plan[Features]:
    if idf_per_entity is not None:
        return Features(idf_per_entity=idf_per_entity)
    if local:
        return Features(idf_per_entity=hasattr(models, "IdfCorpusParams"))
    info: models.VersionInfo = yield Call("info", {})
    supported = _server_version(info.version) >= IDF_CORPUS_SERVER
    return Features(idf_per_entity=supported and hasattr(models, "IdfCorpusParams"))


def setup(layout: Layout, *, local: bool, idf_per_entity: bool | None) -> Plan[Features]:
    """Bring the collections to ``SCHEMA_VERSION`` and check the dimension."""
    meta = yield from _read_meta(layout)
    version = int(meta.get("schema_version", 0)) if meta else 0
    if version > SCHEMA_VERSION:
        raise SchemaTooNewError(
            f"collections with prefix {layout.prefix!r} are at schema version {version}; "
            f"this memori knows up to {SCHEMA_VERSION}: upgrade memori"
        )
    for number in sorted(STEPS):
        if number > version:
            yield from STEPS[number](layout)
    if version < SCHEMA_VERSION:
        yield from _write_meta(layout, SCHEMA_VERSION)
    yield from _check_dimension(layout, layout.memories)
    yield from _check_dimension(layout, layout.turns)
    return (yield from _features(local, idf_per_entity))
