"""The async twins of the store's methods, on pymongo's native ``AsyncMongoClient``.

Each method runs the same plan as its sync twin (see :mod:`.plans`), awaited
on the async client: no thread offload, the event loop is never blocked. A
store given only a sync ``MongoClient`` runs the plans in a worker thread
instead (and does not declare ``NATIVE_ASYNC``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from memori.backends.mongo import filters, plans
from memori.backends.mongo.base import MongoStoreBase, check_limit, check_scope
from memori.backends.mongo.schema import MEMORIES, TURNS
from memori.backends.mongo.search import search
from memori.core import Hit, Memory, Scope, Turn


class AsyncMongoMethods(MongoStoreBase):
    """``AsyncMemoryStore`` for MongoDB."""

    async def asetup(self) -> None:
        self._features = await self._arun(self._setup_plan(), "setup")

    async def aclose(self) -> None:
        await self._conn.aclose()

    async def aappend_turns(self, turns: Sequence[Turn]) -> None:
        await self._arun(plans.append_turns(turns, self.vector_dim), "append turns")

    async def alist_turns(self, scope: Scope, *, limit: int | None = None) -> list[Turn]:
        if limit is not None:
            check_limit(limit)
        return await self._arun(plans.list_turns(check_scope(scope), limit), "list turns")

    async def acount_turns(self, scope: Scope) -> int:
        return await self._arun(plans.count_turns(check_scope(scope)), "count turns")

    async def adelete_turns(self, scope: Scope, turn_ids: Sequence[str] | None = None) -> int:
        return await self._arun(plans.delete_turns(check_scope(scope), turn_ids), "delete turns")

    async def asearch_turns(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
    ) -> list[Hit]:
        where = filters.turn_scope(check_scope(scope))
        query = self._query(TURNS, where, text, vector, limit)
        scored = await self._arun(
            search(query, self._features, self.collection_prefix, self.vector_dim), "search turns"
        )
        return self._hits(TURNS, scored)

    async def aput_memories(self, memories: Sequence[Memory]) -> None:
        await self._arun(plans.put_memories(memories, self.vector_dim), "put memories")

    async def aget_memory(self, scope: Scope, memory_id: str) -> Memory | None:
        return await self._arun(plans.get_memory(check_scope(scope), memory_id), "get memory")

    async def alist_memories(
        self, scope: Scope, *, include_superseded: bool = False,
        limit: int | None = None, offset: int = 0,
    ) -> list[Memory]:
        if limit is not None:
            check_limit(limit)
        plan = plans.list_memories(check_scope(scope), include_superseded, limit,
                                   check_limit(offset, "offset"))
        return await self._arun(plan, "list memories")

    async def acount_memories(self, scope: Scope, *, include_superseded: bool = False) -> int:
        plan = plans.count_memories(check_scope(scope), include_superseded)
        return await self._arun(plan, "count memories")

    async def aupdate_memory(
        self, scope: Scope, memory_id: str, changes: Mapping[str, Any]
    ) -> bool:
        plan = plans.update_memory(check_scope(scope), memory_id, changes, self.vector_dim)
        return await self._arun(plan, "update memory")

    async def adelete_memories(self, scope: Scope, memory_ids: Sequence[str]) -> int:
        plan = plans.delete_memories(check_scope(scope), memory_ids)
        return await self._arun(plan, "delete memories")

    async def asearch_memories(
        self, scope: Scope, *, text: str | None = None,
        vector: Sequence[float] | None = None, limit: int = 10,
        include_superseded: bool = False,
    ) -> list[Hit]:
        where = filters.memory_scope(check_scope(scope), include_superseded=include_superseded)
        query = self._query(MEMORIES, where, text, vector, limit)
        scored = await self._arun(
            search(query, self._features, self.collection_prefix, self.vector_dim),
            "search memories",
        )
        return self._hits(MEMORIES, scored)

    async def aforget(self, entity_id: str) -> int:
        return await self._arun(plans.forget(entity_id), "forget")
