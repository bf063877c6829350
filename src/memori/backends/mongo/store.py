"""The MongoDB memory store: a ``PlanStore`` on pymongo's sync and native async clients.

Collections ``<prefix>turns``, ``<prefix>memories`` and ``<prefix>meta`` in one
database. See :mod:`.plans` for the operations, :mod:`.schema` for the indexes
and setup steps, :mod:`.filters` for how ids enter queries, :mod:`.search` for
text and vector search.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any, TypeVar

from memori.backends.mongo import documents, filters
from memori.backends.mongo.connection import Connection
from memori.backends.mongo.errors import translated
from memori.backends.mongo.features import COLLECTIONS, Features, Mode, Want, detect
from memori.backends.mongo.ops import aexecute, execute
from memori.backends.mongo.plans import BATCH, OLDEST_FIRST, MongoPlans
from memori.backends.mongo.schema import HEAD, MEMORIES, TURNS, apply_steps, check_vector_dim
from memori.core import Capability, ConfigurationError, Memory, Record, Turn
from memori.core.plan_store import Plan, Work, adrive, drive
from memori.core.records import from_record
from memori.core.redact import redact_url
from memori.core.summaries import EntityCounts

T = TypeVar("T")
_PREFIX = re.compile(r"^[A-Za-z0-9_\-]{0,64}$")


class MongoStore(MongoPlans):
    """``MemoryStore`` and ``AsyncMemoryStore`` on MongoDB (pymongo, sync and native async).

    A store given only a sync client runs its async methods in a worker thread
    (and does not declare ``NATIVE_ASYNC``).
    """

    name = "mongo"

    def __init__(
        self, connection: Connection, *, vector_dim: int | None, collection_prefix: str,
        text_index: Want, vector_index: Want, migrate: bool = False,
    ) -> None:
        if not isinstance(migrate, bool):
            raise ConfigurationError(f"migrate must be a bool, got {migrate!r}")
        self._migrate = migrate
        self._conn = connection
        self.vector_dim = _check_dim(vector_dim)
        self.collection_prefix = _check_prefix(collection_prefix)
        self._want_text = text_index
        self._want_vector = vector_index
        self._features = Features()
        if self.vector_dim is not None:
            self._features.vector = dict.fromkeys(COLLECTIONS, Mode.FALLBACK)

    def __repr__(self) -> str:
        return f"<MongoStore {self._conn.describe()} prefix={self.collection_prefix!r}>"

    def __enter__(self) -> MongoStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
        caps = {Capability.TEXT_SEARCH, Capability.MULTI_PROCESS, Capability.ASYNC}
        if self.vector_dim is not None:
            caps.add(Capability.VECTOR_SEARCH)
        if all(m is Mode.NATIVE for m in self._features.text.values()):
            caps.add(Capability.NATIVE_TEXT_INDEX)
        if self.vector_dim is not None and all(
            m is Mode.NATIVE for m in self._features.vector.values()
        ):
            caps.add(Capability.NATIVE_VECTOR_INDEX)
        if self._conn.has_async:
            caps.add(Capability.NATIVE_ASYNC)
        return frozenset(caps)

    # the runners

    def run(self, plan: Plan[T], work: Work) -> T:
        with translated(work.op, self._conn.secrets):
            db, prefix = self._conn.db(), self.collection_prefix
            return drive(plan, lambda request: execute(db, prefix, request))

    async def arun(self, plan: Plan[T], work: Work) -> T:
        if not self._conn.has_async:  # only a sync client was given: keep the loop free
            return await super().arun(plan, work)
        with translated(work.op, self._conn.secrets):
            db, prefix = self._conn.adb(), self.collection_prefix
            return await adrive(plan, lambda request: aexecute(db, prefix, request))

    # lifecycle

    def setup(self) -> None:
        self._features = self.run(self._plan_setup(), Work("setup", None))

    async def asetup(self) -> None:
        self._features = await self.arun(self._plan_setup(), Work("setup", None))

    def close(self) -> None:
        self._conn.close()

    async def aclose(self) -> None:
        await self._conn.aclose()

    def _plan_setup(self) -> Plan[Features]:
        """Apply the versioned steps, check the vector dimension, detect the search modes."""
        where = redact_url(self._conn.url) if self._conn.url else "<your MongoDB URL>"
        command = f"memori migrate {where} (or open the store with migrate=True)"
        yield from apply_steps(migrate=self._migrate, command=command)
        if self.vector_dim is not None:
            yield from check_vector_dim(self.vector_dim)
        features: Features = yield from detect(
            self.collection_prefix, self.vector_dim, self._want_text, self._want_vector)
        return features

    # whole entity and admin

    def raw_count(self, entity_id: str) -> int:
        return self.run(self.plan_raw_count(entity_id), Work("raw_count", entity_id, True))

    def import_records(self, records: Iterable[Record]) -> int:
        """Insert or replace the records' turns and memories; returns how many were written."""
        total, batch = 0, []
        for record in records:
            batch.append(from_record(record))
            if len(batch) >= BATCH:
                total += self.run(self.plan_import(batch), Work("import", None))
                batch = []
        if batch:
            total += self.run(self.plan_import(batch), Work("import", None))
        return total

    def scan(self, entity_id: str | None = None) -> Iterator[Turn | Memory]:
        """Every turn then every memory of the entity (all personas, superseded too), oldest
        first; with no entity, every entity's (crosses entities: an admin call)."""
        where = {} if entity_id is None else filters.entity_filter(entity_id)
        return self._scan(where)

    def _scan(self, where: dict[str, Any]) -> Iterator[Turn | Memory]:
        db = self._conn.db()
        for collection, convert in ((TURNS, documents.doc_to_turn),
                                    (MEMORIES, documents.doc_to_memory)):
            with translated("scan", self._conn.secrets):
                cursor = db[self.collection_prefix + collection].find(
                    where, documents.result_projection(), sort=list(OLDEST_FIRST)
                )
                try:
                    yield from map(convert, cursor)
                finally:
                    cursor.close()

    def entity_counts(self) -> list[EntityCounts]:
        """Every entity's counts, grouped by the server (``SupportsEntityCounts``)."""
        return self.run(self.plan_entity_counts(), Work("entity_counts", None, True))

    def admin_stats(self) -> dict[str, Any]:
        counts = self.run(self.plan_admin_counts(), Work("admin_stats", None, True))
        return {
            "backend": self.name,
            "database": self.database_name,
            "collection_prefix": self.collection_prefix,
            "schema_version": HEAD,
            "vector_dim": self.vector_dim,
            "search": self.search_modes,
            **counts,
        }


def _check_prefix(prefix: Any) -> str:
    if not isinstance(prefix, str) or not _PREFIX.match(prefix) or prefix.startswith("system"):
        raise ConfigurationError(
            "collection_prefix must be up to 64 letters, digits, '_' or '-' "
            f"and must not start with 'system', got {prefix!r}"
        )
    return prefix


def _check_dim(dim: Any) -> int | None:
    if dim is None:
        return None
    if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0:
        raise ConfigurationError(f"vector_dim must be a positive int or None, got {dim!r}")
    return dim


OPTIONS = ("text_index", "vector_index", "async_client", "sync_client", "client_options",
           "migrate")


def _want(name: str, value: Any) -> Want:
    try:
        return Want(value)
    except ValueError:
        choices = ", ".join(repr(w.value) for w in Want)
        raise ConfigurationError(f"{name} must be one of {choices}, got {value!r}") from None


def open_store(
    target: Any, *, vector_dim: int | None = None, database: str | None = None,
    collection_prefix: str = "memori_", **options: Any,
) -> MongoStore:
    """Open a MongoDB store (not yet set up: call ``setup()`` or ``await asetup()``).

    ``target``: a ``mongodb://`` / ``mongodb+srv://`` URL, or a ``MongoClient``,
    ``AsyncMongoClient``, ``Database`` or ``AsyncDatabase``. Options:
    ``text_index`` and ``vector_index`` (``"auto"``: the server's index where it
    has one; ``"native"``: require it; ``"fallback"``: never use it),
    ``async_client`` / ``sync_client`` (the other flavour of client when
    ``target`` is an object), ``client_options`` (keyword arguments for clients
    created from a URL), ``migrate`` (apply new setup steps to collections made
    by an older memori; new collections are always set up).
    """
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise ConfigurationError(
            f"unknown mongo option(s): {', '.join(sorted(unknown))}; known: {', '.join(OPTIONS)}"
        )
    if database is not None and (not isinstance(database, str) or not database):
        raise ConfigurationError(f"database must be a non-empty str, got {database!r}")
    connection = Connection(
        target, database=database, async_client=options.get("async_client"),
        sync_client=options.get("sync_client"), client_options=options.get("client_options"),
    )
    return MongoStore(
        connection, vector_dim=vector_dim, collection_prefix=collection_prefix,
        text_index=_want("text_index", options.get("text_index", "auto")),
        vector_index=_want("vector_index", options.get("vector_index", "auto")),
        migrate=options.get("migrate", False),
    )
