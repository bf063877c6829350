"""State and plan builders shared by the sync and async halves of the PostgreSQL store."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from memori.backends.postgres import plans, writes
from memori.backends.postgres.context import AnnSettings, Context
from memori.backends.postgres.engines import Engines
from memori.backends.postgres.errors import ErrorTranslator
from memori.backends.postgres.layout import Layout, build_layout
from memori.backends.postgres.provision import HnswOptions, Provisioned, provision
from memori.backends.postgres.recall import search_plan
from memori.backends.postgres.runner import Runner
from memori.backends.postgres.steps import Plan
from memori.backends.postgres.vectors import VectorCodec
from memori.core.capabilities import Capability
from memori.core.errors import StoreUnavailableError
from memori.core.models import Memory, Scope, Turn

Call = tuple[Plan[Any], "str | None"]
"""A plan and the entity its transaction works for (None: it crosses entities)."""


class StoreBase:
    """Configuration, runner and setup of a PostgreSQL store; the plan of each call."""

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
        layout: Layout = build_layout(schema)
        self._ctx = Context(layout, VectorCodec(vector_dim),
                            ann if vector_index == "hnsw" and vector_dim is not None else None)
        self._setup_lock = threading.Lock()
        self._provisioned: Provisioned | None = None
        self._closed = False

    def __repr__(self) -> str:
        schema = f", schema={self.schema!r}" if self.schema else ""
        return (f"PostgresStore({self._engines.url_hint!r}{schema}, vector_dim={self.vector_dim}, "
                f"vector_index={self.vector_index!r})")

    # lifecycle

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

    def _check_open(self) -> None:
        if self._closed:
            raise StoreUnavailableError("the postgres store is closed")

    # plans shared by the sync and async methods

    @property
    def _search_reads_only(self) -> bool:
        """Searches need a transaction only to set ``hnsw.ef_search`` locally."""
        return self._ctx.ann is None

    def _c_append_turns(self, turns: Sequence[Turn]) -> Call:
        rows = writes.turn_rows(self._ctx, turns)
        return writes.upsert_turns(self._ctx, rows), writes.single_entity(rows)

    def _c_search_turns(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
        explain: bool = False,
    ) -> Call:
        t = self._ctx.layout.turns
        plan = search_plan(self._ctx, t, scope, text, vector, limit, plans.to_turn,
                           explain=explain)
        return plan, scope.entity_id

    def _c_put_memories(self, memories: Sequence[Memory]) -> Call:
        rows = writes.memory_rows(self._ctx, memories)
        return writes.upsert_memories(self._ctx, rows), writes.single_entity(rows)

    def _c_search_memories(
        self, scope: Scope, text: str | None, vector: Sequence[float] | None, limit: int,
        include_superseded: bool, explain: bool = False,
    ) -> Call:
        plan = search_plan(self._ctx, self._ctx.layout.memories, scope, text, vector, limit,
                           plans.to_memory, include_superseded=include_superseded,
                           explain=explain)
        return plan, scope.entity_id

