"""Which search engine each collection uses: the server's indexes, or the fallbacks.

Detected during setup by asking the server, never by recognising a server:
a text index is used when ``createIndexes`` accepts (or already has) it; a
vector index when the server lists search indexes and ours is queryable. A
vector index still building is checked again, at most every
:data:`RECHECK_SECONDS`, while the exact scan answers meanwhile.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from pymongo.errors import OperationFailure
from pymongo.operations import IndexModel, SearchIndexModel

from memori.backends.mongo import vector_search
from memori.backends.mongo.ops import (
    Attempt,
    CreateIndexes,
    CreateSearchIndex,
    ListIndexes,
    ListSearchIndexes,
)
from memori.backends.mongo.schema import MEMORIES, TURNS
from memori.core import ConfigurationError, DimensionMismatchError
from memori.core.plan_store import Plan
from memori.core.strenum import StrEnum

TEXT_INDEX = "entity_id_1_content_text"
RECHECK_SECONDS = 30.0
COLLECTIONS = (TURNS, MEMORIES)


class Mode(StrEnum):
    """How a search runs on one collection."""

    NATIVE = "native"
    FALLBACK = "fallback"
    BUILDING = "building"
    OFF = "off"


class Want(StrEnum):
    """What the user asked for: use native indexes when possible, always, or never."""

    AUTO = "auto"
    NATIVE = "native"
    FALLBACK = "fallback"


@dataclass
class Features:
    """The search mode of each collection, as last detected."""

    text: dict[str, Mode] = field(default_factory=lambda: dict.fromkeys(COLLECTIONS, Mode.FALLBACK))
    vector: dict[str, Mode] = field(default_factory=lambda: dict.fromkeys(COLLECTIONS, Mode.OFF))
    checked_at: float = 0.0

    def needs_recheck(self, collection: str) -> bool:
        return (self.vector.get(collection) is Mode.BUILDING
                and time.monotonic() - self.checked_at > RECHECK_SECONDS)


def vector_index_name(prefix: str, collection: str) -> str:
    return f"{prefix}{collection}_vector"


def _text_index() -> IndexModel:
    return IndexModel(
        [("entity_id", 1), ("content", "text")], name=TEXT_INDEX,
        default_language="none", language_override="memori_language",
    )


def detect_text(collection: str, want: Want) -> Plan[Mode]:
    """Create the text index if the server has them; otherwise the BM25 fallback."""
    if want is Want.FALLBACK:
        return Mode.FALLBACK
    ok, error = yield Attempt(CreateIndexes(collection, (_text_index(),)), (OperationFailure,))
    if not ok:
        info = yield ListIndexes(collection)
        ok = TEXT_INDEX in info
    if ok:
        return Mode.NATIVE
    if want is Want.NATIVE:
        raise ConfigurationError(f"this MongoDB server cannot build a text index: {error}")
    return Mode.FALLBACK


def _vector_state(indexes: list[dict[str, Any]], name: str, dim: int) -> Mode | None:
    for index in indexes:
        if index.get("name") != name:
            continue
        definition = index.get("latestDefinition") or {}
        for f in definition.get("fields", []):
            if f.get("type") == "vector" and int(f.get("numDimensions", dim)) != dim:
                raise DimensionMismatchError(
                    f"vector index {name!r} has {f['numDimensions']} dimensions, "
                    f"this store was opened with vector_dim={dim}"
                )
        return Mode.NATIVE if index.get("queryable") else Mode.BUILDING
    return None


def detect_vector(
    collection: str, prefix: str, dim: int | None, want: Want, *, create: bool = True
) -> Plan[Mode]:
    """Use (and create) a vector search index where the server offers them."""
    if dim is None:
        return Mode.OFF
    if want is Want.FALLBACK:
        return Mode.FALLBACK
    name = vector_index_name(prefix, collection)
    ok, listed = yield Attempt(ListSearchIndexes(collection), (OperationFailure,))
    if not ok:
        if want is Want.NATIVE:
            raise ConfigurationError(f"this MongoDB server offers no vector search: {listed}")
        return Mode.FALLBACK
    state = _vector_state(listed, name, dim)
    if state is None and create:
        definition = vector_search.index_definition(dim)
        model = SearchIndexModel(definition, name=name, type="vectorSearch")
        created, error = yield Attempt(CreateSearchIndex(collection, model), (OperationFailure,))
        if not created and want is Want.NATIVE:
            raise ConfigurationError(f"cannot create the vector search index: {error}")
        state = Mode.BUILDING if created else Mode.FALLBACK
    return state or Mode.FALLBACK


def detect(prefix: str, dim: int | None, text: Want, vector: Want) -> Plan[Features]:
    """Detect every collection's text and vector modes."""
    features = Features()
    for collection in COLLECTIONS:
        features.text[collection] = yield from detect_text(collection, text)
        features.vector[collection] = yield from detect_vector(collection, prefix, dim, vector)
    features.checked_at = time.monotonic()
    return features


def recheck_vector(features: Features, collection: str, prefix: str, dim: int | None) -> Plan[None]:
    """See whether a building vector index has become queryable."""
    features.checked_at = time.monotonic()
    features.vector[collection] = yield from detect_vector(
        collection, prefix, dim, Want.AUTO, create=False
    )
