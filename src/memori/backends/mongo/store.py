"""The MongoDB memory store: sync methods, the async twins, and :func:`open_store`.

Collections ``<prefix>turns``, ``<prefix>memories`` and ``<prefix>meta`` in one
database. See :mod:`.schema` for the indexes and setup steps, :mod:`.filters`
for how ids enter queries, :mod:`.search` for text and vector search.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from memori.backends.mongo import documents, filters, plans
from memori.backends.mongo.async_store import AsyncMongoMethods
from memori.backends.mongo.base import check_limit, check_scope
from memori.backends.mongo.connection import Connection
from memori.backends.mongo.errors import translated
from memori.backends.mongo.features import Want
from memori.backends.mongo.schema import HEAD, MEMORIES, TURNS
from memori.backends.mongo.search import search
from memori.core import ConfigurationError, ExtractState, Hit, Memory, Record, Scope, Turn
from memori.core.records import from_record
from memori.core.store_base import StoreBase

EXPORT_ORDER = [("created_at", 1), ("id", 1)]


class MongoStore(AsyncMongoMethods, StoreBase):
    """``MemoryStore`` and ``AsyncMemoryStore`` on MongoDB (pymongo, sync and native async)."""

    def setup(self) -> None:
        self._features = self._run(self._setup_plan(), "setup")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> MongoStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # turns

    def append_turns(self, turns: Sequence[Turn]) -> None:
        self._run(plans.append_turns(turns, self.vector_dim), "append turns")

    def list_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        if limit is not None:
            check_limit(limit)
        return self._run(plans.list_turns(check_scope(scope), limit), "list turns")

    def count_turns(self, scope: Scope) -> int:
        return self._run(plans.count_turns(check_scope(scope)), "count turns")

    def delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        return self._run(plans.delete_turns(check_scope(scope), turn_ids), "delete turns")

    def search_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]:
        where = filters.turn_scope(check_scope(scope))
        query = self._query(TURNS, where, text, vector, limit)
        scored = self._run(
            search(query, self._features, self.collection_prefix, self.vector_dim), "search turns"
        )
        return self._hits(TURNS, scored)

    # memories

    def put_memories(self, memories: Sequence[Memory]) -> None:
        self._run(plans.put_memories(memories, self.vector_dim), "put memories")

    def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        return self._run(plans.get_memory(check_scope(scope), memory_id), "get memory")

    def list_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        if limit is not None:
            check_limit(limit)
        plan = plans.list_memories(check_scope(scope), include_superseded, limit,
                                   check_limit(offset, "offset"))
        return self._run(plan, "list memories")

    def count_memories(self, scope: Scope, *, include_superseded: bool = False) -> int:
        plan = plans.count_memories(check_scope(scope), include_superseded)
        return self._run(plan, "count memories")

    def update_memory(self, scope: Scope, memory_id: str, changes: Mapping[str, Any]) -> bool:
        plan = plans.update_memory(check_scope(scope), memory_id, changes, self.vector_dim)
        return self._run(plan, "update memory")

    def delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int:
        return self._run(plans.delete_memories(check_scope(scope), memory_ids), "delete memories")

    def search_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]:
        where = filters.memory_scope(check_scope(scope), include_superseded=include_superseded)
        query = self._query(MEMORIES, where, text, vector, limit)
        scored = self._run(
            search(query, self._features, self.collection_prefix, self.vector_dim),
            "search memories",
        )
        return self._hits(MEMORIES, scored)

    # whole entity

    def forget(self, entity_id: str) -> int:
        return self._run(plans.forget(entity_id), "forget")

    def raw_count(self, entity_id: str) -> int:
        return self._run(plans.raw_count(entity_id), "raw count")

    def import_records(self, records: Iterable[Record]) -> int:
        """Insert or replace the records' turns and memories; returns how many were written."""
        total, batch = 0, []
        for record in records:
            batch.append(from_record(record))
            if len(batch) >= plans.BATCH:
                total += self._run(plans.import_items(batch, self.vector_dim), "import")
                batch = []
        if batch:
            total += self._run(plans.import_items(batch, self.vector_dim), "import")
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
                    where, documents.result_projection(), sort=EXPORT_ORDER
                )
                try:
                    yield from map(convert, cursor)
                finally:
                    cursor.close()

    # outbox and admin (cross entities on purpose)

    def outbox_pending(self, limit: int = 100) -> list[Turn]:
        return self._run(plans.outbox_pending(check_limit(limit)), "outbox pending")

    def outbox_parked(self, limit: int = 100) -> list[Turn]:
        return self._run(plans.outbox_parked(check_limit(limit)), "outbox parked")

    def outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None:
        plan = plans.outbox_mark(entity_id, turn_ids, state, attempts, error)
        self._run(plan, "outbox mark")

    def admin_stats(self) -> dict[str, Any]:
        counts = self._run(plans.admin_counts(self.collection_prefix), "admin stats")
        return {
            "backend": self.name,
            "database": self.database_name,
            "collection_prefix": self.collection_prefix,
            "schema_version": HEAD,
            "vector_dim": self.vector_dim,
            "search": self.search_modes,
            **counts,
        }


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
