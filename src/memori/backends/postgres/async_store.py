"""The ``a*`` twins of the PostgreSQL store, native on SQLAlchemy's asyncio engine (psycopg).

They run the very plans the sync methods run, step by step on an
``AsyncConnection``: no worker thread, the event loop is never blocked. A store
opened on a sync-only target (a borrowed psycopg ``Connection``, an Engine built
without a URL) falls back to a worker thread and does not declare NATIVE_ASYNC.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from memori.backends.postgres import plans
from memori.backends.postgres.base import Call, StoreBase
from memori.core.models import ExtractState, Hit, Memory, Scope, Turn


class AsyncMethods(StoreBase):
    """The async API of ``PostgresStore`` over the shared plans."""

    async def asetup(self) -> None:
        self._check_open()
        aengine = self._engines.async_
        if aengine is None:
            await asyncio.to_thread(self.setup)
            return
        with self._translate():
            async with aengine.begin() as conn:
                self._apply(await conn.run_sync(self._provision))

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        await self._engines.adispose()

    async def _arun(self, call: Call, *, read_only: bool = False) -> Any:
        self._check_open()
        if self._provisioned is None:
            await self.asetup()
        plan, entity_id = call
        return await self._runner.arun(plan, entity_id, read_only=read_only)

    async def _aread(self, call: Call) -> Any:
        return await self._arun(call, read_only=True)

    # turns

    async def aappend_turns(self, turns: Sequence[Turn]) -> None:
        await self._arun(self._c_append_turns(turns))

    async def alist_turns(
        self, scope: Scope, *, limit: int | None = None
    ) -> list[Turn]:
        out: list[Turn] = await self._aread(
            (plans.list_turns(self._ctx, scope, limit), scope.entity_id))
        return out

    async def acount_turns(self, scope: Scope) -> int:
        return int(await self._aread((plans.count_turns(self._ctx, scope), scope.entity_id)))

    async def adelete_turns(
        self, scope: Scope, turn_ids: Sequence[str] | None = None
    ) -> int:
        plan = plans.delete_turns(self._ctx, scope, turn_ids)
        return int(await self._arun((plan, scope.entity_id)))

    async def asearch_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]:
        hits: list[Hit] = await self._arun(self._c_search_turns(scope, text, vector, limit),
                                           read_only=self._search_reads_only)
        return hits

    # memories

    async def aput_memories(self, memories: Sequence[Memory]) -> None:
        await self._arun(self._c_put_memories(memories))

    async def aget_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        found: Memory | None = await self._aread(
            (plans.get_memory(self._ctx, scope, memory_id), scope.entity_id))
        return found

    async def alist_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        plan = plans.list_memories(self._ctx, scope, include_superseded, limit, offset)
        out: list[Memory] = await self._aread((plan, scope.entity_id))
        return out

    async def acount_memories(
        self, scope: Scope, *, include_superseded: bool = False
    ) -> int:
        plan = plans.count_memories(self._ctx, scope, include_superseded)
        return int(await self._aread((plan, scope.entity_id)))

    async def aupdate_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any]
    ) -> bool:
        plan = plans.update_memory(self._ctx, scope, memory_id, changes)
        return bool(await self._arun((plan, scope.entity_id)))

    async def adelete_memories(
        self, scope: Scope, memory_ids: Sequence[str]
    ) -> int:
        plan = plans.delete_memories(self._ctx, scope, memory_ids)
        return int(await self._arun((plan, scope.entity_id)))

    async def asearch_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]:
        hits: list[Hit] = await self._arun(
            self._c_search_memories(scope, text, vector, limit, include_superseded),
            read_only=self._search_reads_only)
        return hits

    # whole entity and outbox

    async def aforget(self, entity_id: str) -> int:
        return int(await self._arun((plans.forget(self._ctx, entity_id), entity_id)))

    async def araw_count(self, entity_id: str) -> int:
        return int(await self._aread((plans.raw_count(self._ctx, entity_id), entity_id)))

    async def aoutbox_pending(self, limit: int = 100) -> list[Turn]:
        out: list[Turn] = await self._aread((plans.outbox_pending(self._ctx, limit), None))
        return out

    async def aoutbox_parked(self, limit: int = 100) -> list[Turn]:
        out: list[Turn] = await self._aread((plans.outbox_parked(self._ctx, limit), None))
        return out

    async def aoutbox_mark(
        self, entity_id: str, turn_ids: Sequence[str], state: ExtractState,
        *, attempts: int | None = None, error: str | None = None,
    ) -> None:
        plan = plans.outbox_mark(self._ctx, entity_id, turn_ids, state, attempts, error)
        await self._arun((plan, None))
