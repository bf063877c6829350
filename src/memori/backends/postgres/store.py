"""The PostgreSQL store: the whole ``MemoryStore`` protocol, sync and native async.

Open it with :func:`open_store` from a ``postgresql://`` or ``postgresql+psycopg://``
URL, a SQLAlchemy Engine or AsyncEngine, or a psycopg (async) connection. Each
operation is a plan (see ``plans``) run in one transaction by ``run`` or, for the
``a*`` methods, by ``arun`` natively on SQLAlchemy's asyncio engine.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any, TypeVar

from sqlalchemy.engine import URL, Engine
from sqlalchemy.ext.asyncio import AsyncEngine

from memori.backends.postgres import vacuum, writes
from memori.backends.postgres.context import AnnSettings, Context
from memori.backends.postgres.engines import ENGINE_OPTIONS, Engines, engines_for
from memori.backends.postgres.errors import ErrorTranslator
from memori.backends.postgres.layout import build_layout, check_schema_name
from memori.backends.postgres.plans import PostgresPlans, to_memory, to_turn
from memori.backends.postgres.provision import HnswOptions, Provisioned, provision
from memori.backends.postgres.runner import Runner
from memori.backends.postgres.vectors import VectorCodec
from memori.backends.sql.rows import RowLike
from memori.core.capabilities import Capability
from memori.core.errors import ConfigurationError, StoreUnavailableError
from memori.core.ids import check_id
from memori.core.models import Memory, Scope, Turn
from memori.core.plan_store import Plan, Work, single_entity
from memori.core.protocols import Record
from memori.core.records import from_record
from memori.core.redact import option_secrets, secrets_in
from memori.core.store_rules import check_store_limit
from memori.core.summaries import EntityCounts

T = TypeVar("T")

PAGE = 1000
"""Rows per page when exporting (the connection is released between pages)."""
IMPORT_CHUNK = 10_000
"""Records per transaction when importing."""
VECTOR_INDEXES = ("exact", "hnsw")
SEARCHES = ("search_turns", "search_memories")


class PostgresStore(PostgresPlans):
    """``MemoryStore`` on PostgreSQL: tsvector + GIN text, pgvector cosine, optional RLS."""

    name = "postgres"

    def __init__(
        self, engines: Engines, *, vector_dim: int | None, schema: str | None,
        migrate: bool, row_level_security: bool, vector_index: str,
        hnsw: HnswOptions, ann: AnnSettings, secrets: tuple[str, ...],
    ) -> None:
        self.vector_dim = vector_dim
        self.schema = schema
        self.vector_index = vector_index
        self._engines = engines
        self._migrate = migrate
        self._want_rls = row_level_security
        self._hnsw = hnsw
        self._translate = ErrorTranslator(secrets)
        self._runner = Runner(engines, self._translate)
        self._ctx = Context(build_layout(schema), VectorCodec(vector_dim),
                            ann if vector_index == "hnsw" and vector_dim is not None else None)
        self._setup_lock = threading.Lock()
        self._provisioned: Provisioned | None = None
        self._closed = False

    def __repr__(self) -> str:
        schema = f", schema={self.schema!r}" if self.schema else ""
        return (f"PostgresStore({self._engines.url_hint!r}{schema}, vector_dim={self.vector_dim}, "
                f"vector_index={self.vector_index!r})")

    @property
    def capabilities(self) -> frozenset[Capability]:
        caps = {Capability.TEXT_SEARCH, Capability.NATIVE_TEXT_INDEX, Capability.ASYNC,
                Capability.MIGRATIONS, Capability.MULTI_PROCESS}
        if self.vector_dim is not None:
            caps |= {Capability.VECTOR_SEARCH, Capability.HYBRID_FUSION}
            if self.vector_index == "hnsw":
                caps.add(Capability.NATIVE_VECTOR_INDEX)
        if self._runner.native_async:
            caps.add(Capability.NATIVE_ASYNC)
        rls_on = self._runner.rls_active if self._provisioned is not None else self._want_rls
        if rls_on:
            caps.add(Capability.ROW_LEVEL_SECURITY)
        return frozenset(caps)

    # lifecycle

    @property
    def provisioned(self) -> Provisioned | None:
        """What ``setup()`` found: revision, pgvector version, RLS, HNSW indexes."""
        return self._provisioned

    def _provision(self, conn: Any) -> Provisioned:
        return provision(
            conn, schema=self.schema, url_hint=self._engines.url_hint, migrate=self._migrate,
            vector_dim=self.vector_dim,
            hnsw=self._hnsw if self.vector_index == "hnsw" else None,
            row_level_security=self._want_rls,
        )

    def _apply(self, done: Provisioned) -> None:
        self._runner.rls_active = done.rls_active
        self._runner.vector_oid = done.vector_oid
        self._provisioned = done

    def setup(self) -> None:
        """Create pgvector, the schema and the tables (or check them), HNSW, RLS; idempotent."""
        self._check_open()
        engine = self._engines.require_sync()
        with self._setup_lock, self._engines.guard(), self._translate(), engine.begin() as conn:
            self._apply(self._provision(conn))

    async def asetup(self) -> None:
        self._check_open()
        aengine = self._engines.async_
        if aengine is None:
            await asyncio.to_thread(self.setup)
            return
        with self._translate():
            async with aengine.begin() as conn:
                self._apply(await conn.run_sync(self._provision))

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._engines.dispose()

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._engines.adispose()

    def __enter__(self) -> PostgresStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailableError("the postgres store is closed")

    # the runners: one transaction per plan, natively async on the async engine

    @property
    def _search_reads_only(self) -> bool:
        """Searches need a transaction only to set ``hnsw.ef_search`` locally."""
        return self._ctx.ann is None

    def _reads_only(self, work: Work) -> bool:
        if work.op in SEARCHES:
            return self._search_reads_only
        return work.read_only

    def run(self, plan: Plan[T], work: Work) -> T:
        self._check_open()
        if self._provisioned is None:
            self.setup()
        return self._runner.run(plan, work.entity_id, self._reads_only(work))

    async def arun(self, plan: Plan[T], work: Work) -> T:
        """On the async engine; a store opened on a sync-only target (a borrowed psycopg
        ``Connection``, an Engine built without a URL) runs the plan in a worker thread."""
        self._check_open()
        if self._provisioned is None:
            await self.asetup()
        return await self._runner.arun(plan, work.entity_id, self._reads_only(work))

    # search plans explained

    def explain_search_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> Any:
        """``EXPLAIN (ANALYZE, FORMAT JSON)`` of the statement ``search_memories`` would run."""
        plan = self.plan_search_memories(scope, text, vector, limit, include_superseded,
                                         explain=True)
        return self.run(plan, Work("explain_search_memories", scope.entity_id))

    def explain_search_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> Any:
        """``EXPLAIN (ANALYZE, FORMAT JSON)`` of the statement ``search_turns`` would run."""
        plan = self.plan_search_turns(scope, text, vector, limit, explain=True)
        return self.run(plan, Work("explain_search_turns", scope.entity_id))

    # whole entity

    def entity_counts(self) -> list[EntityCounts]:
        """Every entity's counts, counted in SQL (``SupportsEntityCounts``)."""
        return self.run(self.plan_entity_counts(), Work("entity_counts", None, read_only=True))

    def scan(self, entity_id: str | None = None) -> Iterator[Turn | Memory]:
        """Every turn then every memory of the entity (or of each entity), oldest first."""
        if entity_id is not None:
            check_id(entity_id)
        self._check_open()
        return self._scan(entity_id)

    def _scan(self, entity_id: str | None) -> Iterator[Turn | Memory]:
        entity_ids = ([entity_id] if entity_id is not None
                      else self.run(self.plan_entity_ids(), Work("scan", None, read_only=True)))
        layout = self._ctx.layout
        for entity in entity_ids:
            yield from map(to_turn, self._pages(layout.turns, entity))
            yield from map(to_memory, self._pages(layout.memories, entity))

    def _pages(self, table: Any, entity_id: str) -> Iterator[RowLike]:
        after: tuple[float, str] | None = None
        while True:
            rows = self.run(self.plan_page(table, entity_id, after, PAGE),
                            Work("scan", entity_id, read_only=True))
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
                self._import(chunk)
                chunk = []
        if chunk:
            self._import(chunk)
        return count

    def _import(self, items: Sequence[Turn | Memory]) -> None:
        turns = writes.turn_rows(self._ctx, [i for i in items if isinstance(i, Turn)])
        memories = writes.memory_rows(self._ctx, [i for i in items if isinstance(i, Memory)])

        def plan() -> Plan[None]:
            yield from writes.upsert_turns(self._ctx, turns)
            yield from writes.upsert_memories(self._ctx, memories)

        self.run(plan(), Work("import_records", single_entity(items)))

    def raw_count(self, entity_id: str) -> int:
        """Rows of the entity in turns, memories and the outbox (searches index those rows)."""
        return self.run(self.plan_raw_count(entity_id),
                        Work("raw_count", entity_id, read_only=True))

    async def araw_count(self, entity_id: str) -> int:
        return await self.arun(self.plan_raw_count(entity_id),
                               Work("raw_count", entity_id, read_only=True))

    # admin (crosses entities, by name)

    def admin_stats(self) -> dict[str, Any]:
        """Counts across every entity, the schema revision and the search paths in use."""
        counts = self.run(self.plan_admin_counts(), Work("admin_stats", None, read_only=True))
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
    check_store_limit(pool_size, "pool_size")
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
