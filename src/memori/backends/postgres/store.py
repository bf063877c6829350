"""The PostgreSQL store: the whole ``MemoryStore`` protocol, sync and native async.

Open it with :func:`open_store` from a ``postgresql://`` or ``postgresql+psycopg://``
URL, a SQLAlchemy Engine or AsyncEngine, or a psycopg (async) connection. Each
operation is a plan (see ``steps``) run in one transaction by the sync runner
or, for the ``a*`` methods, natively on SQLAlchemy's asyncio engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy.engine import URL, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from memori.backends.postgres import plans, vacuum, writes
from memori.backends.postgres.async_store import AsyncMethods
from memori.backends.postgres.base import Call
from memori.backends.postgres.context import AnnSettings, check_limit
from memori.backends.postgres.engines import ENGINE_OPTIONS, engines_for
from memori.backends.postgres.layout import check_schema_name
from memori.backends.postgres.provision import HnswOptions
from memori.backends.postgres.steps import Plan
from memori.backends.sql.rows import RowLike
from memori.core.errors import ConfigurationError
from memori.core.ids import check_id
from memori.core.models import ExtractState, Hit, Memory, Scope, Turn
from memori.core.protocols import Record
from memori.core.records import from_record
from memori.core.redact import option_secrets, secrets_in
from memori.core.store_base import StoreBase

PAGE = 1000
"""Rows per page when exporting (the connection is released between pages)."""
IMPORT_CHUNK = 10_000
"""Records per transaction when importing."""
VECTOR_INDEXES = ("exact", "hnsw")


class PostgresStore(AsyncMethods, StoreBase):
    """``MemoryStore`` on PostgreSQL: tsvector + GIN text, pgvector cosine, optional RLS."""

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._engines.dispose()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _run(self, call: Call, *, read_only: bool = False) -> Any:
        self._check_open()
        if self._provisioned is None:
            self.setup()
        plan, entity_id = call
        return self._runner.run(plan, entity_id, read_only=read_only)

    def _read(self, call: Call) -> Any:
        return self._run(call, read_only=True)

    # turns

    def append_turns(self, turns: Sequence[Turn]) -> None:
        """Insert turns (a turn written again replaces the stored one); pending ones are queued."""
        self._run(self._c_append_turns(turns))

    def list_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        out: list[Turn] = self._read((plans.list_turns(self._ctx, scope, limit), scope.entity_id))
        return out

    def count_turns(self, scope: Scope) -> int:
        return int(self._read((plans.count_turns(self._ctx, scope), scope.entity_id)))

    def delete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        return int(self._run((plans.delete_turns(self._ctx, scope, turn_ids), scope.entity_id)))

    def search_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]:
        hits: list[Hit] = self._run(self._c_search_turns(scope, text, vector, limit),
                                    read_only=self._search_reads_only)
        return hits

    # memories

    def put_memories(self, memories: Sequence[Memory]) -> None:
        """Insert or replace memories, keyed by ``(entity_id, id)``."""
        self._run(self._c_put_memories(memories))

    def get_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        found: Memory | None = self._read(
            (plans.get_memory(self._ctx, scope, memory_id), scope.entity_id))
        return found

    def list_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        plan = plans.list_memories(self._ctx, scope, include_superseded, limit, offset)
        out: list[Memory] = self._read((plan, scope.entity_id))
        return out

    def count_memories(self, scope: Scope, *, include_superseded: bool = False) -> int:
        plan = plans.count_memories(self._ctx, scope, include_superseded)
        return int(self._read((plan, scope.entity_id)))

    def update_memory(self, scope: Scope, memory_id: str, changes: Mapping[str, Any]) -> bool:
        plan = plans.update_memory(self._ctx, scope, memory_id, changes)
        return bool(self._run((plan, scope.entity_id)))

    def delete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int:
        plan = plans.delete_memories(self._ctx, scope, memory_ids)
        return int(self._run((plan, scope.entity_id)))

    def search_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]:
        hits: list[Hit] = self._run(
            self._c_search_memories(scope, text, vector, limit, include_superseded),
            read_only=self._search_reads_only)
        return hits

    def explain_search_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> Any:
        """``EXPLAIN (ANALYZE, FORMAT JSON)`` of the statement ``search_memories`` would run."""
        return self._run(self._c_search_memories(
            scope, text, vector, limit, include_superseded, explain=True))

    def explain_search_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> Any:
        """``EXPLAIN (ANALYZE, FORMAT JSON)`` of the statement ``search_turns`` would run."""
        return self._run(self._c_search_turns(scope, text, vector, limit, explain=True))

    # whole entity

    def forget(self, entity_id: str) -> int:
        """Delete every turn, memory and outbox row of the entity; counts turns and memories."""
        return int(self._run((plans.forget(self._ctx, entity_id), entity_id)))

    def scan(self, entity_id: str | None = None) -> Iterator[Turn | Memory]:
        """Every turn then every memory of the entity (or of each entity), oldest first."""
        if entity_id is not None:
            check_id(entity_id)
        self._check_open()
        return self._scan(entity_id)

    def _scan(self, entity_id: str | None) -> Iterator[Turn | Memory]:
        entity_ids: list[str] = ([entity_id] if entity_id is not None
                                 else self._read((plans.entity_ids(self._ctx), None)))
        layout = self._ctx.layout
        for entity in entity_ids:
            yield from map(plans.to_turn, self._pages(layout.turns, entity))
            yield from map(plans.to_memory, self._pages(layout.memories, entity))

    def _pages(self, table: Any, entity_id: str) -> Iterator[RowLike]:
        after: tuple[float, str] | None = None
        while True:
            rows: list[RowLike] = self._read(
                (plans.page(self._ctx, table, entity_id, after, PAGE), entity_id))
            yield from rows
            if len(rows) < PAGE:
                return
            after = (float(rows[-1]["created_at"]), str(rows[-1]["id"]))

    def import_records(self, records: Iterable[Record]) -> int:
        """Store exported records (turns and memories replace stored ones with their ids)."""
        count = 0
        chunk: list[Turn | Memory] = []
        for record in records:
            chunk.append(from_record(record))
            count += 1
            if len(chunk) >= IMPORT_CHUNK:
                self._run(self._c_import(chunk))
                chunk = []
        if chunk:
            self._run(self._c_import(chunk))
        return count

    def _c_import(self, items: Sequence[Turn | Memory]) -> Call:
        turn_rows = writes.turn_rows(self._ctx, [i for i in items if isinstance(i, Turn)])
        memory_rows = writes.memory_rows(self._ctx, [i for i in items if isinstance(i, Memory)])

        def plan() -> Plan[None]:
            yield from writes.upsert_turns(self._ctx, turn_rows)
            yield from writes.upsert_memories(self._ctx, memory_rows)

        return plan(), writes.single_entity([*turn_rows, *memory_rows])

    def raw_count(self, entity_id: str) -> int:
        """Rows of the entity in turns, memories and the outbox (searches index those rows)."""
        return int(self._read((plans.raw_count(self._ctx, entity_id), entity_id)))

    # augmentation outbox (crosses entities)

    def outbox_pending(self, limit: int = 100) -> list[Turn]:
        out: list[Turn] = self._read((plans.outbox_pending(self._ctx, limit), None))
        return out

    def outbox_parked(self, limit: int = 100) -> list[Turn]:
        out: list[Turn] = self._read((plans.outbox_parked(self._ctx, limit), None))
        return out

    def outbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None:
        plan = plans.outbox_mark(self._ctx, entity_id, turn_ids, state, attempts, error)
        self._run((plan, None))

    # admin (crosses entities, by name)

    def admin_stats(self) -> dict[str, Any]:
        """Counts across every entity, the schema revision and the search paths in use."""
        counts: dict[str, int] = self._read((plans.admin_counts(self._ctx), None))
        done = self._provisioned
        return {
            "backend": self.name,
            "schema": self.schema,
            "revision": done.revision if done else None,
            **counts,
            "vector_dim": self.vector_dim,
            "vector_search": None if self.vector_dim is None else self.vector_index,
            "hnsw_indexes": list(done.hnsw_indexes) if done else [],
            "text_search": "tsvector+gin",
            "pgvector": done.pgvector if done else None,
            "row_level_security": bool(done and done.rls_active),
        }

    def admin_vacuum(self, *, full: bool = False) -> list[str]:
        """``VACUUM`` memori's tables (across entities): the space of rows deleted by
        ``forget`` and other deletes is reclaimed now rather than at autovacuum's
        next pass. ``full=True`` rewrites the tables (``VACUUM FULL``: the old pages
        are gone at once, but the tables are locked while it runs). WAL, replicas
        and backups keep their copies until they expire. Returns the tables."""
        self._check_open()
        if self._provisioned is None:
            self.setup()
        engine = self._engines.require_sync()
        with self._engines.guard(), self._translate():
            return vacuum.vacuum(engine, self._ctx.layout, full=full)


def _positive_int(options: dict[str, Any], name: str, default: int) -> int:
    value = options.pop(name, default)
    if type(value) is not int or value <= 0:
        raise ConfigurationError(f"{name} must be a positive int")
    return value


def open_store(
    target: Any, *, vector_dim: int | None = None, schema: str | None = None,
    migrate: bool = False, row_level_security: bool = False,
    pool_size: int = 5, **options: Any,
) -> PostgresStore:
    """Open (not yet set up) a PostgreSQL store.

    ``target``: a ``postgresql://`` / ``postgresql+psycopg://`` URL (str or SQLAlchemy
    ``URL``), a SQLAlchemy
    Engine or AsyncEngine (psycopg driver), or a psycopg Connection /
    AsyncConnection (borrowed, never closed). Options: ``schema`` (several apps
    share one database), ``migrate`` (upgrade an older schema), ``row_level_security``,
    pool settings (``pool_size``, ``max_overflow``, ``pool_timeout``, ``pool_recycle``,
    ``pool_pre_ping``, ``pool_use_lifo``), ``connect_args``, ``echo``;
    ``vector_index`` ("exact" or "hnsw"), ``hnsw_m``, ``hnsw_ef_construction``,
    ``hnsw_ef_search``, ``hnsw_min_rows`` (entities smaller than this are searched exactly).
    """
    if vector_dim is not None and (type(vector_dim) is not int or vector_dim <= 0):
        raise ConfigurationError("vector_dim must be a positive int or None")
    schema = check_schema_name(schema)
    opts = dict(options)
    vector_index = opts.pop("vector_index", "exact")
    if vector_index not in VECTOR_INDEXES:
        raise ConfigurationError(f"vector_index must be one of {', '.join(VECTOR_INDEXES)}")
    hnsw = HnswOptions(m=_positive_int(opts, "hnsw_m", 16),
                       ef_construction=_positive_int(opts, "hnsw_ef_construction", 64))
    ann = AnnSettings(min_rows=_positive_int(opts, "hnsw_min_rows", 10_000),
                      ef_search=_positive_int(opts, "hnsw_ef_search", 100))
    if ann.ef_search > 1000:
        raise ConfigurationError("hnsw_ef_search must be at most 1000 (pgvector's limit)")
    check_limit(pool_size, "pool_size")
    opts["pool_size"] = pool_size
    engine_kw = {k: opts.pop(k) for k in list(opts) if k in ENGINE_OPTIONS}
    if opts:
        raise ConfigurationError(f"unknown postgres options: {', '.join(sorted(opts))}")
    engines = engines_for(target, engine_kw)
    return PostgresStore(
        engines, vector_dim=vector_dim, schema=schema, migrate=bool(migrate),
        row_level_security=bool(row_level_security), vector_index=vector_index,
        hnsw=hnsw, ann=ann, secrets=_secrets_of(target, engine_kw),
    )


def _secrets_of(target: Any, engine_kw: Mapping[str, Any]) -> tuple[str, ...]:
    """The credentials the store connects with, to mask them in error messages."""
    found = option_secrets(engine_kw.get("connect_args") or {})
    if isinstance(target, (Engine, AsyncEngine)):
        target = target.url
    if isinstance(target, URL):
        target = target.render_as_string(hide_password=False)
    if isinstance(target, str):
        found += secrets_in(target)
    password = getattr(getattr(target, "info", None), "password", None)
    if isinstance(password, str) and password:
        found += (password,)
    return found


__all__ = ["PostgresStore", "open_store"]
