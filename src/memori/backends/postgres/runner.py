"""Runs plans in one transaction each, on the sync engine or natively on the async engine.

When the store's tables have row-level security on, the first statement of
every transaction names the entity it works for (or all entities, for the
calls that cross them on purpose), transaction-locally so a pooled connection
never carries it over.
"""

from __future__ import annotations

import asyncio
from typing import Any, TypeVar

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from memori.backends.postgres import rls
from memori.backends.postgres.bulk import CopyRows, copy_async, copy_sync
from memori.backends.postgres.engines import Engines
from memori.backends.postgres.errors import ErrorTranslator
from memori.backends.postgres.steps import Exec, Explain
from memori.core.plan_store import Plan, adrive, drive

T = TypeVar("T")

EXPLAIN_PREFIX = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) "


def _explained(step: Explain, dialect: Any) -> tuple[str, dict[str, Any]]:
    """The EXPLAIN statement for ``step`` and its parameters (the driver's own form)."""
    compiled = step.statement.compile(dialect=dialect)  # type: ignore[attr-defined]
    return EXPLAIN_PREFIX + str(compiled), {**compiled.params, **(step.params or {})}


class Runner:
    """Executes plans; ``rls_active`` and ``vector_oid`` are learnt by the store's setup."""

    def __init__(self, engines: Engines, translate: ErrorTranslator) -> None:
        self.engines = engines
        self.translate = translate
        self.rls_active = False
        self.vector_oid = 0
        self._alock: asyncio.Lock | None = None
        self._sync_autocommit: Engine | None = None
        self._async_autocommit: AsyncEngine | None = None

    # sync

    def _autocommit_sync(self, engine: Engine) -> Engine:
        if self._sync_autocommit is None:
            self._sync_autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        return self._sync_autocommit

    def _autocommit_async(self, engine: AsyncEngine) -> AsyncEngine:
        if self._async_autocommit is None:
            self._async_autocommit = engine.execution_options(isolation_level="AUTOCOMMIT")
        return self._async_autocommit

    def _autocommit(self, read_only: bool) -> bool:
        """Reads skip BEGIN/COMMIT (one round trip) unless RLS needs a transaction-local entity."""
        return read_only and not self.rls_active and not self.engines.borrowed

    def run(self, plan: Plan[T], entity_id: str | None, read_only: bool) -> T:
        """Run ``plan`` in one transaction for ``entity_id`` (None: crosses entities).

        A ``read_only`` plan runs in autocommit mode when it can: each of its
        statements then sees its own snapshot, which reads tolerate.
        """
        engine = self.engines.require_sync()
        begin: Any = (self._autocommit_sync(engine).connect if self._autocommit(read_only)
                      else engine.begin)
        with self.engines.guard(), self.translate(), begin() as conn:
            if self.rls_active:
                conn.execute(rls.set_scope_statement(), rls.scope_params(entity_id))
            return drive(plan, lambda step: self._step(conn, step))

    def _step(self, conn: Connection, step: Any) -> Any:
        if isinstance(step, Exec):
            if step.params is None:
                return conn.execute(step.statement)
            return conn.execute(step.statement, step.params)  # type: ignore[arg-type]
        if isinstance(step, CopyRows):
            copy_sync(conn.connection.driver_connection, step, self.vector_oid)
            return None
        if isinstance(step, Explain):
            sql, params = _explained(step, conn.dialect)
            return conn.exec_driver_sql(sql, params).scalar()
        raise TypeError(f"unknown plan step {type(step).__name__}")

    # async

    @property
    def native_async(self) -> bool:
        return self.engines.async_ is not None

    async def arun(self, plan: Plan[T], entity_id: str | None, read_only: bool) -> T:
        """Like :meth:`run` on the async engine; without one, in a worker thread."""
        if self.engines.async_ is None:
            return await asyncio.to_thread(self.run, plan, entity_id, read_only)
        if self.engines.borrowed:
            if self._alock is None:
                self._alock = asyncio.Lock()
            async with self._alock:
                return await self._arun(plan, entity_id, read_only)
        return await self._arun(plan, entity_id, read_only)

    async def _arun(self, plan: Plan[T], entity_id: str | None, read_only: bool) -> T:
        engine = self.engines.async_
        assert engine is not None
        begin: Any = (self._autocommit_async(engine).connect if self._autocommit(read_only)
                      else engine.begin)
        with self.translate():
            async with begin() as conn:
                if self.rls_active:
                    await conn.execute(rls.set_scope_statement(), rls.scope_params(entity_id))
                return await adrive(plan, lambda step: self._astep(conn, step))

    async def _astep(self, conn: AsyncConnection, step: Any) -> Any:
        if isinstance(step, Exec):
            if step.params is None:
                return await conn.execute(step.statement)
            return await conn.execute(step.statement, step.params)  # type: ignore[arg-type]
        if isinstance(step, CopyRows):
            raw = await conn.get_raw_connection()
            await copy_async(raw.driver_connection, step, self.vector_oid)
            return None
        if isinstance(step, Explain):
            sql, params = _explained(step, conn.dialect)
            return (await conn.exec_driver_sql(sql, params)).scalar()
        raise TypeError(f"unknown plan step {type(step).__name__}")
