"""State and helpers shared by the sync and async halves of the MongoDB store."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from typing import Any, TypeVar

from memori.backends.mongo import ops, vector_search
from memori.backends.mongo.connection import Connection
from memori.backends.mongo.documents import doc_to_memory, doc_to_turn
from memori.backends.mongo.errors import translated
from memori.backends.mongo.features import COLLECTIONS, Features, Mode, Want, detect
from memori.backends.mongo.filters import Filter
from memori.backends.mongo.schema import MEMORIES, apply_steps, check_vector_dim
from memori.backends.mongo.search import Query, Scored
from memori.core import Capability, ConfigurationError, Hit, Scope
from memori.core.redact import redact_url

T = TypeVar("T")
_PREFIX = re.compile(r"^[A-Za-z0-9_\-]{0,64}$")


def setup_plan(
    prefix: str, dim: int | None, text: Want, vector: Want, *, migrate: bool, command: str
) -> ops.Plan[Features]:
    """Apply the versioned steps, check the vector dimension, detect the search modes."""
    yield from apply_steps(migrate=migrate, command=command)
    if dim is not None:
        yield from check_vector_dim(dim)
    features: Features = yield from detect(prefix, dim, text, vector)
    return features


def check_prefix(prefix: Any) -> str:
    if not isinstance(prefix, str) or not _PREFIX.match(prefix) or prefix.startswith("system"):
        raise ConfigurationError(
            "collection_prefix must be up to 64 letters, digits, '_' or '-' "
            f"and must not start with 'system', got {prefix!r}"
        )
    return prefix


def check_dim(dim: Any) -> int | None:
    if dim is None:
        return None
    if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
        raise ConfigurationError(f"vector_dim must be a positive int or None, got {dim!r}")
    return dim


def check_limit(limit: Any, name: str = "limit") -> int:
    if isinstance(limit, bool) or not isinstance(limit, int):
        raise TypeError(f"{name} must be an int, got {type(limit).__name__}")
    return limit


def check_scope(scope: Any) -> Scope:
    if not isinstance(scope, Scope):
        raise TypeError(f"scope must be a memori Scope, got {type(scope).__name__}")
    return scope


class MongoStoreBase:
    """Connection, options, detected features and the plan runners."""

    name = "mongo"

    def __init__(
        self, connection: Connection, *, vector_dim: int | None, collection_prefix: str,
        text_index: Want, vector_index: Want, migrate: bool = False,
    ) -> None:
        if not isinstance(migrate, bool):
            raise ConfigurationError(f"migrate must be a bool, got {migrate!r}")
        self._migrate = migrate
        self._conn = connection
        self.vector_dim = check_dim(vector_dim)
        self.collection_prefix = check_prefix(collection_prefix)
        self._want_text = text_index
        self._want_vector = vector_index
        self._features = Features()
        if self.vector_dim is not None:
            self._features.vector = dict.fromkeys(COLLECTIONS, Mode.FALLBACK)

    def __repr__(self) -> str:
        return f"<MongoStore {self._conn.describe()} prefix={self.collection_prefix!r}>"

    @property
    def database_name(self) -> str:
        return self._conn.database_name

    @property
    def search_modes(self) -> dict[str, dict[str, str]]:
        """How text and vector search run on each collection (``native`` or ``fallback``)."""
        return {"text": {c: m.value for c, m in self._features.text.items()},
                "vector": {c: m.value for c, m in self._features.vector.items()}}

    @property
    def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.TEXT_SEARCH, Capability.MULTI_PROCESS}
        if self.vector_dim is not None:
            caps.add(Capability.VECTOR_SEARCH)
        if all(m is Mode.NATIVE for m in self._features.text.values()):
            caps.add(Capability.NATIVE_TEXT_INDEX)
        if self.vector_dim is not None and all(
            m is Mode.NATIVE for m in self._features.vector.values()
        ):
            caps.add(Capability.NATIVE_VECTOR_INDEX)
        caps.add(Capability.ASYNC)
        if self._conn.has_async:
            caps.add(Capability.NATIVE_ASYNC)
        return frozenset(caps)

    def _setup_plan(self) -> ops.Plan[Features]:
        where = redact_url(self._conn.url) if self._conn.url else "<your MongoDB URL>"
        command = f"memori migrate {where} (or open the store with migrate=True)"
        return setup_plan(self.collection_prefix, self.vector_dim, self._want_text,
                          self._want_vector, migrate=self._migrate, command=command)

    def _run(self, plan: ops.Plan[T], action: str) -> T:
        with translated(action, self._conn.secrets):
            return ops.run(plan, self._conn.db(), self.collection_prefix)

    async def _arun(self, plan: ops.Plan[T], action: str) -> T:
        if not self._conn.has_async:  # only a sync client was given: keep the loop free
            return await asyncio.to_thread(self._run, plan, action)
        with translated(action, self._conn.secrets):
            return await ops.arun(plan, self._conn.adb(), self.collection_prefix)

    def _query(
        self, collection: str, scope_filter: Filter, text: str | None,
        vector: Sequence[float] | None, limit: int,
    ) -> Query:
        if text is not None and not isinstance(text, str):
            raise TypeError(f"text must be a str or None, got {type(text).__name__}")
        query_vector = None
        if vector is not None:
            query_vector = vector_search.check_vector(vector, self.vector_dim)
        return Query(collection, scope_filter, text, query_vector, check_limit(limit))

    @staticmethod
    def _hits(collection: str, scored: list[Scored]) -> list[Hit]:
        convert = doc_to_memory if collection == MEMORIES else doc_to_turn
        return [Hit(convert(s.doc), s.score, dict(s.signals)) for s in scored]
